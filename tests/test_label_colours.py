"""Issue 27: Compare coloured the digits differently from every other page. One label colour map: the
Latent map's, the Train page's live map and the Compare page's maps give label k the same colour."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest


def _colours_by_name(fig) -> dict[str, str]:
    return {t.name: t.marker.color for t in fig.data if t.name not in (None, "click grid")}


def test_compare_maps_colour_labels_as_the_latent_map(assets_dir):
    from vae.data import load_dataset
    from vae.ui import loaders
    from vae.ui.compare.models import map_figure
    from vae.ui.map.figures import latent_map_figure

    if not (assets_dir / "digits-2d" / "config.json").is_file():
        pytest.skip("no digits-2d")
    lm = loaders.load_folder(assets_dir / "digits-2d", "cpu", "bundled")
    ds = load_dataset("digits")
    ctx = SimpleNamespace(dataset=ds, dataset_key="digits:test-colours")
    compare = _colours_by_name(map_figure(lm, ctx, "label"))
    labels = np.arange(len(ds.class_names))
    on_map = _colours_by_name(latent_map_figure(np.zeros((len(labels), 2)), labels, labels, ds.class_names))
    assert set(compare) == set(on_map) == set(ds.class_names)
    assert compare == on_map


def test_one_label_palette_everywhere():
    from vae.ui.colours import LABEL_COLOURS, label_colour
    from vae.ui.map.figures import QUALITATIVE
    from vae.ui.training.live_map import PALETTE

    assert list(QUALITATIVE[:len(LABEL_COLOURS)]) == list(LABEL_COLOURS)[:len(QUALITATIVE)]
    assert list(PALETTE) == list(LABEL_COLOURS)[:len(PALETTE)]
    assert label_colour(3) == LABEL_COLOURS[3] and label_colour(len(LABEL_COLOURS) + 1) == LABEL_COLOURS[1]


def test_coloured_by_a_value_the_legend_sits_above_the_plot_not_over_the_colour_bar():
    """Issue 27: with colour by log p(x) the legend overlapped the colour bar at the right edge."""
    import numpy as np

    from vae.ui.map.figures import latent_map_figure

    xy, index, labels = np.random.default_rng(0).normal(size=(50, 2)), np.arange(50), np.arange(50) % 3
    by_value = latent_map_figure(xy, index, labels, ["a", "b", "c"], color=np.linspace(0, 1, 50),
                                 color_name="log p(x)")
    assert by_value.layout.legend.orientation == "h" and by_value.layout.legend.yanchor == "bottom"
    assert by_value.data[0].marker.colorbar.title.text == "log p(x)"
    by_label = latent_map_figure(xy, index, labels, ["a", "b", "c"])
    assert by_label.layout.legend.orientation is None               # labels: the legend on the right, as before
