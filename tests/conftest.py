"""Shared test setup: markers that skip by hardware, and the path of the real MNIST files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = REPO.parent / "shared" / "datasets" / "mnist"


def pytest_collection_modifyitems(config, items):
    skip_cuda = pytest.mark.skip(reason="no CUDA GPU on this machine")
    for item in items:
        if "cuda" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_cuda)
        if "/e2e/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """../shared/datasets/mnist beside the repo; tests needing it skip only where it is absent."""
    if not MNIST_DIR.is_dir():
        pytest.skip(f"MNIST folder {MNIST_DIR} is absent")
    return MNIST_DIR
