"""The one error type for bad user input, shared by twin and hdap.

It is a ValueError so library callers can catch it as one; the CLIs catch it once and print its
message as a single line with exit code 2.
"""

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad user input: a malformed file, an unknown name, an impossible parameter."""
