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
    """vae.ui.colours is the one source: the Latent map (Plotly), the live map (Plotly and WebGL) and the scatter
    PNG read it. The Plotly live map had its own 10-colour PALETTE: classes 10 and up wrapped to class 0's
    colour there only (a 12-class data set's label 10 was blue on the live map, dark blue everywhere else)."""
    from vae.analysis.live_map import LatentFrame, LiveMapData
    from vae.ui.colours import LABEL_COLOURS, label_colour
    from vae.ui.map.figures import latent_map_figure
    from vae.ui.training.live_map import live_map_figure
    from vae.ui.training.live_map_webgl import _colours

    assert label_colour(3) == LABEL_COLOURS[3] and label_colour(len(LABEL_COLOURS) + 1) == LABEL_COLOURS[1]
    labels = np.arange(12)
    names = tuple(f"c{k}" for k in labels)
    want = {names[k]: label_colour(k) for k in labels}
    assert _colours_by_name(latent_map_figure(np.zeros((12, 2)), labels, labels, names)) == want
    frame = LatentFrame(epoch=1.0, step=1, xy=np.zeros((12, 2), np.float32), explained=None, seconds=0.0)
    data = LiveMapData(index=labels, labels=labels, class_names=names, factors=None, factor_names=(),
                       projection="latent", frames=(frame,), overhead_s=0.0, skipped=0)
    assert _colours_by_name(live_map_figure(data)) == want
    assert {d["name"]: d["color"] for d in _colours(data, "label")["legend"]} == want


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
