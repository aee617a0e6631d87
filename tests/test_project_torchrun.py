"""`python -m vae project` sharded under torchrun (2 CPU processes on gloo) writes what one process writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch.distributed as dist

from vae.analysis.sharded_map import shard_rows

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                 reason="needs torch.distributed with gloo")]


def test_shards_cover_every_row_once_in_order():
    for n, world in [(10, 3), (2, 2), (1797, 2), (7, 4)]:
        bounds = [shard_rows(n, r, world) for r in range(world)]
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
        assert max(b - a for a, b in bounds) - min(b - a for a, b in bounds) <= 1


def _torchrun(tmp_path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "VAE_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("WORLD_SIZE", None)
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                        "-m", "vae", "project", *map(str, args), "--quiet"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def _single(capsys, tmp_path, monkeypatch, *args):
    from tests.test_cli import vae_main

    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "cache-one"))
    r = vae_main(capsys, "project", *args, "--quiet")
    assert r.returncode == 0, r.stderr
    return r


def _assert_same_npz(one: Path, two: Path, atol: float) -> None:
    with np.load(one) as a, np.load(two) as b:
        assert sorted(a.files) == sorted(b.files) == ["embedding", "index", "labels", "mu", "split"]
        for key in a.files:
            assert a[key].shape == b[key].shape and a[key].dtype == b[key].dtype, key
        for key in ("labels", "split", "index"):
            assert np.array_equal(a[key], b[key]), key
        np.testing.assert_allclose(b["mu"], a["mu"], atol=1e-5)
        np.testing.assert_allclose(b["embedding"], a["embedding"], atol=atol)


def test_pca_of_10000_mnist_images_on_two_processes_equals_one_process(capsys, tmp_path, monkeypatch):
    """Each rank encodes 5,000 of the bundled MNIST test images; the PCA axes come from all-reduced sums."""
    run = ROOT / "assets" / "mnist-16d"
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    _single(capsys, tmp_path, monkeypatch, run, "--split", "test", "--method", "pca", "--out", one)
    r = _torchrun(tmp_path, run, "--split", "test", "--method", "pca", "--out", two)
    # rank 0 alone reports and writes
    assert r.stdout.count("on 2 processes") == 1 and "10,000 points of mnist test" in r.stdout
    assert "trustworthiness 0." in r.stdout and "10-NN accuracy 0." in r.stdout    # beside the map's time
    _assert_same_npz(one, two, atol=1e-4)
    with np.load(two) as f:
        assert f["embedding"].shape == (10_000, 2) and f["embedding"].dtype == np.float32


def test_tsne_fitted_on_rank_0_and_placed_per_shard_equals_one_process(capsys, tmp_path, monkeypatch):
    """All 1,797 digits: the same seeded 400-row sample is fitted once (rank 0) and every other row is placed
    by the rank holding it; each placement depends on the row alone, so the map is one process's map."""
    run = ROOT / "assets" / "digits-2d"
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    flags = ("--split", "all", "--method", "tsne", "--fit-points", "400")
    _single(capsys, tmp_path, monkeypatch, run, *flags, "--out", one)
    r = _torchrun(tmp_path, run, *flags, "--out", two)
    assert "fitted on 400, placed 1,397) on 2 processes" in r.stdout and "map computed" in r.stdout
    _assert_same_npz(one, two, atol=1e-3)
    # a second sharded run reads the encodings of both shards and the map from the cache
    r2 = _torchrun(tmp_path, run, *flags, "--out", two)
    assert "encodings cached, map cached" in r2.stdout
    _assert_same_npz(one, two, atol=1e-3)
