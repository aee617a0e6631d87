"""Shared test setup: markers that skip by hardware, the path of the real MNIST files, fake IDX files."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

# One torch (OpenMP) thread in every process the suite starts: the workers, the streamlit servers, their training
# processes. pytest-xdist already runs one worker per core, and a second thread in each only spins: the same tests
# took 16% less CPU (user + sys) with it. Set before torch is imported; a test that wants more sets it itself.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = REPO.parent / "shared" / "datasets" / "mnist"
# apps run under AppTest in this process start no background UMAP warm-up (vae.ui.warmup) unless asked
os.environ.setdefault("VAE_WARMUP", "0")


# Each test file's CPU seconds in a serial run (bench/suite_cpu.py --write-costs tests/cpu_costs.json). The suite
# runs files in this order, the dearest first, one file to a worker at a time (pyproject: --dist loadfile with
# --no-loadscope-reorder; xdist would otherwise order them by their number of tests, which left hour-glass files
# of one long browser test, such as tests/e2e/test_live_map.py, to the end while the other worker stood idle). A
# file not in the table counts as the median one.
CPU_COSTS = REPO / "tests" / "cpu_costs.json"


def _dearest_files_first(items) -> None:
    import json
    import statistics

    costs = json.loads(CPU_COSTS.read_text()) if CPU_COSTS.is_file() else {}
    default = statistics.median(costs.values()) if costs else 0.0
    # a node id starts with its file's path from the rootdir, as bench/suite_cpu.py keys the table
    items.sort(key=lambda item: costs.get(item.nodeid.split("::")[0], default), reverse=True)   # stable


def pytest_xdist_auto_num_workers(config):
    """`pytest -m minutes` (the README's second test command) selects one or two long tests: they run in this
    process. Two workers would each import and collect the whole suite first (9 s of a run whose one test is
    skipped on a machine its bundled summary was not made on). Otherwise xdist's own count (None)."""
    if config.getoption("markexpr", "") == "minutes":
        return 0
    return None


def pytest_collection_modifyitems(config, items):
    _dearest_files_first(items)
    skip_cuda = pytest.mark.skip(reason="no CUDA GPU on this machine")
    for item in items:
        if "cuda" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_cuda)
        if "/e2e/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _every_training_process_ends_with_its_test(monkeypatch):
    """A test that fails while a training runs (a wait cut short on a busy machine) must not leave its process
    training on: a 500-epoch run left behind by tests/test_process_job.py trained through the rest of its
    worker's tests, taking a core from each. Every ProcessTrainingJob launched during a test (directly or by a
    page under AppTest) is closed when the test ends; one already finished costs nothing."""
    from vae.train import ProcessTrainingJob

    launched = []
    real = ProcessTrainingJob._launch

    def launch(self, *args, **kwargs):
        launched.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ProcessTrainingJob, "_launch", launch)
    yield
    for job in launched:
        job.close(timeout=10)


@pytest.fixture(autouse=True)
def _real_main_module():
    """Put this process's `__main__` back after each test. Streamlit's script runner (AppTest) installs the
    script it runs as sys.modules['__main__'] and leaves it there; a process started with 'spawn' later in the
    same pytest process re-ran that script as its main module (tests/test_gallery.py's ten publishers died with
    NameError: '__args' after tests/test_browser_onnx.py's AppTest.from_function, in one order of the files)."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's bundled 8x8 digits (1,497 training, 300 test images), loaded once; read-only."""
    from vae.data import load_dataset

    return load_dataset("digits")


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one torch thread, and the CPU is shared (modules opt in with
    `pytestmark = pytest.mark.usefixtures("one_thread")`)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


BUNDLED_MODELS = ("digits-2d", "shapes-8d")


@pytest.fixture(scope="session")
def assets_dir(tmp_path_factory) -> Path:
    """The bundled checkpoints ($VAE_ASSETS_DIR or assets/), or tiny stand-ins trained once when absent."""
    import os

    bundled = Path(os.environ.get("VAE_ASSETS_DIR", REPO / "assets"))
    if all((bundled / m / "config.json").is_file() for m in BUNDLED_MODELS):
        return bundled
    from vae.cli import main

    out = tmp_path_factory.mktemp("assets")
    assert main(["train", "--dataset", "digits", "--latent-dim", "2", "--hidden", "64", "--epochs", "8",
                 "--out", str(out / "digits-2d"), "--quiet"]) == 0
    assert main(["train", "--dataset", "shapes", "--n-train", "600", "--n-test", "200", "--latent-dim", "8",
                 "--hidden", "64", "--epochs", "1", "--out", str(out / "shapes-8d"), "--quiet"]) == 0
    return out


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """../shared/datasets/mnist beside the repo; tests needing it skip only where it is absent."""
    if not MNIST_DIR.is_dir():
        pytest.skip(f"MNIST folder {MNIST_DIR} is absent")
    return MNIST_DIR


IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@pytest.fixture
def fake_mnist(tmp_path) -> tuple[Path, dict[str, str], dict[str, np.ndarray]]:
    """A folder with 4 small gzipped MNIST-like IDX files (50 train / 20 test 28x28 images, labels 0..9).

    Returns (folder, file name -> md5, file name -> array written).
    """
    from vae.data.idx import write_idx

    rng = np.random.default_rng(0)
    folder = tmp_path / "fake-mnist"
    folder.mkdir()
    arrays = {
        IDX_FILES[0]: rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
        IDX_FILES[1]: np.arange(50, dtype=np.uint8) % 10,
        IDX_FILES[2]: rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        IDX_FILES[3]: np.arange(20, dtype=np.uint8) % 10,
    }
    md5 = {name: hashlib.md5(write_idx(a, folder / name).read_bytes()).hexdigest() for name, a in arrays.items()}
    return folder, md5, arrays
