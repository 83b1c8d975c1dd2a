"""The zoo's torch modules, built for any width vector."""
