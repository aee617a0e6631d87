"""The Latent map's search, filter and colour logic (vae.ui.map.filters): pure numpy, issue 27."""

from __future__ import annotations

import numpy as np
import pytest

from vae.dims import dim_label
from vae.ui.latents import Latents
from vae.ui.map.filters import (FilterInputError, MapFilter, clipped_range, dim_options, dim_values, filter_mask,
                                parse_indices, reconstruction_error, take_view)
from vae.ui.map.latent_map import MapView

INDEX = np.array([0, 3, 7, 12, 40, 41, 60, 99])
LABELS = np.array([0, 3, 7, 7, 1, 3, 7, 9])
LOG_PX = np.array([-90.0, -120.0, -80.0, -100.0, -150.0, -85.0, -95.0, -200.0])


def test_parse_indices_reads_single_indices_and_ranges():
    assert parse_indices("12, 40-60 99") == [(12, 12), (40, 60), (99, 99)]
    assert parse_indices("  ") == []


@pytest.mark.parametrize("text", ["abc", "5-2", "-3", "1.5"])
def test_parse_indices_names_the_bad_term(text):
    with pytest.raises(FilterInputError, match="range"):
        parse_indices(text)


def test_filter_by_label_index_and_log_px_range():
    assert filter_mask(MapFilter(labels=(7,)), INDEX, LABELS).tolist() == (LABELS == 7).tolist()
    kept = filter_mask(MapFilter(index_text="3, 40-60"), INDEX, LABELS)
    assert INDEX[kept].tolist() == [3, 40, 41, 60]
    kept = filter_mask(MapFilter(log_px=(-100.0, -85.0)), INDEX, LABELS, LOG_PX)
    assert INDEX[kept].tolist() == [0, 12, 41, 60]
    # the filters combine (and): label 7 among indices 0-20
    kept = filter_mask(MapFilter(labels=(7,), index_text="0-20"), INDEX, LABELS)
    assert INDEX[kept].tolist() == [7, 12]


def test_a_log_px_range_without_a_ranking_keeps_every_point():
    assert filter_mask(MapFilter(log_px=(-100.0, -85.0)), INDEX, LABELS, None).all()


def test_isolated_selection_keeps_only_its_points_and_an_empty_filter_is_inactive():
    f = MapFilter(isolated=(41, 7, 1000))
    assert INDEX[filter_mask(f, INDEX, LABELS)].tolist() == [7, 41]
    assert f.active and f.signature() and f.signature() != MapFilter(isolated=(7,)).signature()
    assert not MapFilter().active and MapFilter().signature() == ""
    assert filter_mask(MapFilter(), INDEX, LABELS).all()


def test_take_view_cuts_every_array_to_the_kept_points():
    n = len(INDEX)
    lat = Latents(INDEX, np.arange(2 * n, dtype=np.float32).reshape(n, 2), np.zeros((n, 2), np.float32), LABELS, None)
    view = MapView("latent", lat, lat.mu.copy(), ("z1", "z2"), None, None)
    sub = take_view(view, np.array([1, 4]))
    assert sub.lat.index.tolist() == [3, 40] and sub.lat.labels.tolist() == [3, 1]
    assert sub.xy.tolist() == view.xy[[1, 4]].tolist() and sub.lat.mu.shape == (2, 2) and sub.method == "latent"


def test_clipped_range_ignores_the_extremes():
    v = np.concatenate([np.linspace(0, 1, 1000), [1e6, -1e6]])
    lo, hi = clipped_range(v, (2, 98))
    assert -0.01 < lo < 0.05 and 0.95 < hi < 1.01
    assert clipped_range(np.full(5, 3.0)) == (2.5, 3.5)
    assert clipped_range(np.array([np.nan, 1.0, 2.0]), (0, 100)) == (1.0, 2.0)


def test_dimension_colours_are_numbered_as_everywhere_else():
    mu = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert dim_options(3) == [dim_label(0), dim_label(1), dim_label(2)] == ["z1", "z2", "z3"]
    assert dim_values("z3", mu).tolist() == mu[:, 2].tolist()
    assert dim_values("label", mu) is None


def test_reconstruction_error_is_the_mean_squared_error_in_unit_pixels():
    images = np.zeros((2, 1, 2, 2), np.uint8)
    images[1] = 255
    recon = np.full((2, 1, 2, 2), 0.5, np.float32)
    np.testing.assert_allclose(reconstruction_error(images, recon), [0.25, 0.25])
    with pytest.raises(ValueError, match="shape"):
        reconstruction_error(images, recon[:, :, :1])
