"""New points on an existing map: openTSNE's and UMAP's transform put a copy of a fitted point next to it;
UMAP as a projection; the CSV and zip exports."""

from __future__ import annotations

import csv
import io
import zipfile

import numpy as np
import pytest

from vae.analysis.export import images_zip, map_csv
from vae.analysis.neighbours import nearest_neighbours
from vae.analysis.projection import knn_label_accuracy, place_points, project_pca, project_tsne


@pytest.fixture(scope="module")
def clusters():
    """300 points in 6-d: three blobs, labels 0..2."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(c, 1.0, (100, 6)) for c in (0.0, 6.0, -6.0)]).astype(np.float32)
    return x, np.repeat([0, 1, 2], 100)


def lands_next_to(proj, x, picks):
    """Each copy lands within a tenth of the map's width of its original, among the map positions of the
    original's 15 nearest latent neighbours (median distance to them at most twice the original's own)."""
    placed = place_points(proj, x[picks] + 1e-4)
    assert placed.shape == (len(picks), proj.n_components) and np.isfinite(placed).all()
    e = proj.embedding
    spread = np.ptp(e, axis=0).max()
    for p, i in zip(placed, picks):
        assert np.linalg.norm(p - e[i]) < 0.1 * spread
        nb, _ = nearest_neighbours(x[i], x, k=15, exclude=i)
        own = np.median(np.linalg.norm(e[nb] - e[i], axis=1))
        assert np.median(np.linalg.norm(e[nb] - p, axis=1)) < 2 * own


def test_tsne_transform_places_a_copy_next_to_its_original(clusters):
    x, _ = clusters
    proj = project_tsne(x, seed=0, early_exaggeration_iter=60, n_iter=120, n_jobs=1)
    lands_next_to(proj, x, [0, 150, 299])
    assert place_points(proj, x[5]).shape == (2,)


def test_pca_places_points_with_its_transform(clusters):
    x, _ = clusters
    proj = project_pca(x)
    np.testing.assert_allclose(place_points(proj, x[:3]), proj.embedding[:3], atol=1e-5)


@pytest.mark.slow      # umap-learn compiles its kernels with numba on first use: ~30 s of one core
def test_umap_maps_and_places_a_copy_next_to_its_original(clusters):
    pytest.importorskip("umap")
    from vae.analysis.umap_projection import project_umap

    x, labels = clusters
    steps = []
    proj = project_umap(x, seed=0, n_epochs=100, progress=lambda i, total, msg: steps.append((i, total)))
    assert proj.method == "umap" and proj.embedding.shape == (300, 2) and proj.embedding.dtype == np.float32
    assert steps[0] == (0, 102) and steps[-1] == (102, 102)      # loading, the graph, 100 epochs, done
    assert [i for i, _ in steps] == sorted(i for i, _ in steps) and len(steps) > 50
    assert knn_label_accuracy(proj.embedding, labels) == 1.0
    lands_next_to(proj, x, [0, 150, 299])
    with pytest.raises(ValueError, match="n_neighbors"):
        project_umap(x, n_neighbors=1)


@pytest.mark.filterwarnings("ignore:n_jobs value")
def test_umap_shown_as_it_computes_ends_on_the_same_map_as_umap_learn_uninterrupted(clusters):
    """The layout's epochs run one call each (vae.analysis.umap_projection._embed_by_epochs) so snapshots can be
    taken between them: the finished map, its placement of new points and each frame equal umap-learn's own."""
    umap = pytest.importorskip("umap")
    from vae.analysis.umap_projection import project_umap

    x, _ = clusters
    plain = dict(n_components=2, n_neighbors=15, min_dist=0.1, random_state=0, init="spectral")
    ref = umap.UMAP(n_epochs=60, **plain)
    frames = []
    proj = project_umap(x, seed=0, n_epochs=60, snapshot=lambda e, n, xy: frames.append((e, n, xy)))
    np.testing.assert_array_equal(proj.embedding, ref.fit_transform(x))          # bit for bit
    assert [f[0] for f in frames] == list(range(60)) and all(f[1] == 60 for f in frames)
    assert frames[0][2].dtype == np.float32 and frames[0][2].shape == (300, 2)
    # copies of a moving layout (umap-learn's epoch 0 samples no edge: every edge is due from epoch 1)
    assert all(not np.array_equal(a[2], b[2]) for a, b in zip(frames[1:], frames[2:]))
    # a frame is the layout after that many epochs: umap-learn's own list of layouts agrees (n_epochs=[9, 29, 60]:
    # 60 epochs, the layout kept after epochs number 9 and 29, counted from 0)
    listed = umap.UMAP(n_epochs=[9, 29, 60], **plain).fit(x)
    for e, layout in zip((10, 30), listed.embedding_list_):
        np.testing.assert_array_equal(frames[e][2], layout)
    # the fitted map is a plain umap.UMAP, placing new points as the uninterrupted one does
    assert type(proj.fitted) is umap.UMAP
    np.testing.assert_array_equal(place_points(proj, x[:5] + 0.01), ref.transform(x[:5] + 0.01))


def test_map_csv_has_one_row_per_point_and_reads_back():
    rng = np.random.default_rng(0)
    mu, lv = rng.normal(size=(7, 3)).astype(np.float32), rng.normal(size=(7, 3)).astype(np.float32)
    data = map_csv(np.arange(10, 17), np.arange(7) % 2, mu, lv, mu[:, :2], class_names=["a", "b"],
                   axis_names=["PC1 (50%)", "PC2 (20%)"], factors=np.ones((7, 1)), factor_names=["x position"],
                   log_px=-np.arange(7.0))
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert len(rows) == 7
    assert list(rows[0]) == ["index", "label", "label_name", "x_position", "mu_1", "mu_2", "mu_3", "sigma_1",
                             "sigma_2", "sigma_3", "map_PC1", "map_PC2", "log_px"]
    assert rows[3]["index"] == "13" and rows[3]["label_name"] == "b"
    assert float(rows[2]["mu_2"]) == mu[2, 1] and float(rows[2]["sigma_1"]) == pytest.approx(np.exp(lv[2, 0] / 2))
    with pytest.raises(ValueError, match="log_px"):
        map_csv([0], [0], mu[:1], lv[:1], log_px=[1.0, 2.0])


def test_images_zip_holds_one_png_per_image():
    z = images_zip(np.zeros((3, 1, 8, 8), np.uint8), ["a.png", "b.png", "c.png"], scale=2)
    with zipfile.ZipFile(io.BytesIO(z)) as zf:
        assert zf.namelist() == ["a.png", "b.png", "c.png"]
        assert zf.read("a.png")[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="unique"):
        images_zip(np.zeros((2, 1, 8, 8)), ["a.png", "a.png"])
