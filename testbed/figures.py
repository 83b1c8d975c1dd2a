"""Report figures with matplotlib's object API: no pyplot, so no global backend or style changes.

A figure is a ``matplotlib.figure.Figure`` with its axes made in seaborn's whitegrid style;
seaborn's plotting functions draw on those axes; ``savefig`` renders with Agg. A caller's own
matplotlib settings (backend, style, open pyplot figures) are left as they were.
"""

from __future__ import annotations

__all__ = ["new_figure"]


def new_figure(figsize: tuple[float, float], nrows: int = 1, ncols: int = 1, **kwargs):
    """``(figure, axes)`` like ``pyplot.subplots``, without pyplot."""
    import seaborn as sns
    from matplotlib.figure import Figure

    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=figsize, **kwargs)
        axes = fig.subplots(nrows, ncols)
    return fig, axes
