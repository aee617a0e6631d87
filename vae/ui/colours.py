"""One colour per class label on every page: label k is drawn in LABEL_COLOURS[k % len(LABEL_COLOURS)].

    label_colour(k) -> "#rrggbb"

The one source of truth: the Latent map (Plotly and WebGL), the Train page's live map, Compare and the
scatter PNGs all read label_colour / LABEL_COLOURS. Plotly's D3 colours extended; Plotly's own colourway
(Streamlit's theme) would colour a class by its trace's position.
"""

from __future__ import annotations

LABEL_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf", "#393b79", "#ad494a", "#8c6d31", "#637939", "#7b4173")


def label_colour(label: int) -> str:
    """The colour of class `label` (an index into the data set's class names)."""
    return LABEL_COLOURS[int(label) % len(LABEL_COLOURS)]
