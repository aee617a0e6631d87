"""Safe to host (issues 14, 15; the server side): server paths, hosted mode, session ownership, queues and
limits, memory given back, orphaned jobs and old files, bounded background tasks, page errors.

One test per finding; each failed (or could not be written) against the code before the fix.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from vae.ui import hosting  # noqa: E402
from tests.processes import alive  # noqa: E402
from tests.waits import HANG_S  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")


# ---------------------------------------------------------------------------------------------- paths

def test_a_path_outside_home_and_project_is_refused_without_naming_it(monkeypatch, tmp_path):
    monkeypatch.delenv(hosting.HOSTED_ENV, raising=False)
    monkeypatch.delenv(hosting.ALLOWED_DIRS_ENV, raising=False)
    with pytest.raises(hosting.PathRefused) as e:
        hosting.check_server_path("/etc")
    assert "/etc" not in str(e.value)
    assert hosting.check_server_path("assets/digits-2d") == (REPO / "assets" / "digits-2d").resolve()
    assert hosting.check_server_path("~") == Path.home().resolve()
    # a symlink inside the project that leads out of it is judged by where it leads
    link = REPO / "tests" / f".tmp-link-{os.getpid()}"
    link.symlink_to("/etc")
    try:
        with pytest.raises(hosting.PathRefused):
            hosting.check_server_path(str(link))
    finally:
        link.unlink()
    monkeypatch.setenv(hosting.ALLOWED_DIRS_ENV, str(tmp_path))
    assert hosting.check_server_path(str(tmp_path)) == tmp_path.resolve()


def test_hosted_mode_refuses_every_server_path(monkeypatch):
    monkeypatch.setenv(hosting.HOSTED_ENV, "1")
    for p in ("assets/digits-2d", "~", str(REPO)):
        with pytest.raises(hosting.PathRefused, match="shared"):
            hosting.check_server_path(p)


@pytest.fixture
def app(assets_dir, monkeypatch):
    """app(page, **state) -> AppTest on pages/<page>.py after the first run of app.py."""
    from vae.ui import loaders

    monkeypatch.setattr(loaders, "ASSETS_DIR", assets_dir)

    def open_(page: str, token: str | None = None, **state) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=HANG_S)
        if token is not None:
            at.session_state["_vae_owner_token"] = token
        for k, v in state.items():
            at.session_state[k] = v
        at.run()
        if page != "decode":      # the default page; AppTest reports sidebar widgets only without switch_page
            at.switch_page(f"pages/{page}.py").run()
        return at

    return open_


def _labels(at: AppTest) -> list[str]:
    return [w.label for w in at.text_input]


def test_the_sidebar_refuses_a_folder_outside_home_and_project(app, monkeypatch):
    monkeypatch.delenv(hosting.HOSTED_ENV, raising=False)
    at = app("decode")
    from vae.ui.sidebar import FOLDER_OPTION

    key = next(s.key for s in at.sidebar.selectbox if s.key and s.key.startswith("sb_dataset_"))
    at.session_state[key] = FOLDER_OPTION            # AppTest forgets a sidebar choice set through the widget
    at.session_state["sb_img_folder"] = "/etc"
    at.run()
    assert "Folder of images (subfolders = labels)" in _labels(at), _labels(at)
    errors = [e.value for e in at.sidebar.error]
    assert any("outside your home folder and the project" in e for e in errors), errors
    assert not any("/etc" in e for e in errors)
    assert not at.exception


def test_hosted_mode_has_no_server_path_inputs_and_no_save(app, monkeypatch):
    monkeypatch.setenv(hosting.HOSTED_ENV, "1")
    from vae.ui.sidebar import FOLDER_OPTION

    train = app("train")
    assert not train.exception, [e.value for e in train.exception]
    train.selectbox(key="tr_dataset").set_value("mnist").run()
    assert not [l for l in _labels(train) if "folder" in l.lower()], _labels(train)
    assert not train.exception, [e.value for e in train.exception]
    for choice in ("mnist", FOLDER_OPTION):
        at = app("decode")
        key = next(s.key for s in at.sidebar.selectbox if s.key and s.key.startswith("sb_dataset_"))
        at.session_state[key] = choice
        at.run()
        assert not [l for l in _labels(at) if "folder" in l.lower()], (choice, _labels(at))
    # the zip upload remains
    assert "Upload a zip of images." in [c.value for c in at.sidebar.caption]


def test_save_to_folder_refuses_a_server_path_when_hosted_and_outside_home_locally(monkeypatch, tmp_path):
    from vae.ui.training import jobs as training

    class FakeJob:
        def latest_model(self):
            raise AssertionError("must refuse before touching the model")

    monkeypatch.setenv(hosting.HOSTED_ENV, "1")
    with pytest.raises(hosting.PathRefused):
        training.save_trained_model(FakeJob(), str(REPO / "runs" / "x"))
    monkeypatch.delenv(hosting.HOSTED_ENV)
    with pytest.raises(hosting.PathRefused):
        training.save_trained_model(FakeJob(), "/etc/vae")


def test_a_checkpoint_cannot_name_a_server_folder_as_its_dataset(monkeypatch):
    from vae.ui import loaders

    class M:
        checkpoint_info = {"dataset": {"name": "folder:/etc"}}
    assert loaders.spec_from_checkpoint(M()) is None
    M.checkpoint_info = {"dataset": {"name": "mnist", "data_dir": "/etc"}}
    spec = loaders.spec_from_checkpoint(M())
    assert spec.data_dir != "/etc"


# ---------------------------------------------------------------------------------------------- ownership

def test_the_url_alone_gives_no_control_of_a_session(app):
    from vae.ui.hosting import owner

    a = app("train")
    bid_a, token_a = a.session_state["_vae_browser_id"], a.session_state["_vae_owner_token"]
    assert len(token_a) == 32 and bid_a == owner.public_id(token_a) and token_a not in bid_a
    # another browser opening a URL with A's id (the old ?sid=) gets its own owner, not A's
    b = AppTest.from_file(APP, default_timeout=HANG_S)
    b.query_params["sid"] = bid_a
    b.run()
    assert b.session_state["_vae_browser_id"] != bid_a
    # the browser that holds A's cookie is A
    c = app("train", token=token_a)
    assert c.session_state["_vae_browser_id"] == bid_a


# ---------------------------------------------------------------------------------------------- training limits


def _configs(epochs: int, batch_size: int = 16):
    from vae.config import ModelConfig, TrainConfig

    return ModelConfig(image_size=8, latent_dim=2, hidden=(16,)), TrainConfig(dataset="digits", epochs=epochs,
                                                                           batch_size=batch_size)


def test_jobs_past_the_limit_wait_in_a_queue_with_their_position(monkeypatch, digits):
    from vae.ui.training import jobs as training

    monkeypatch.setenv("VAE_MAX_TRAINING_JOBS", "1")
    busy = [j for j in training._registry().jobs.values() if j.is_running]
    for j in busy:
        j.wait(HANG_S)
    mc, tc = _configs(500)
    first = training.start_job("queue-a", mc, tc, digits)
    second = training.start_job("queue-b", *_configs(1), digits)
    try:
        assert first.is_running
        assert second.snapshot().state == "pending" and not second.is_running
        assert training.queue_position("queue-b") == 1
        training.stop_job("queue-a")
        assert first.wait(HANG_S)
        deadline = time.monotonic() + HANG_S        # the janitor starts the queued job when the slot frees
        while training.queue_position("queue-b") is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert training.queue_position("queue-b") is None
        assert second.wait(HANG_S) and second.snapshot().state == "finished"
    finally:
        training.stop_job("queue-a")
        training.stop_job("queue-b")


def test_a_queued_job_can_be_stopped_before_it_starts(monkeypatch, digits):
    from vae.ui.training import jobs as training

    monkeypatch.setenv("VAE_MAX_TRAINING_JOBS", "1")
    first = training.start_job("cancel-a", *_configs(500), digits)
    try:
        queued = training.start_job("cancel-b", *_configs(5), digits)
        if not first.is_running:
            pytest.skip("the first job ended before the second was queued")
        training.stop_job("cancel-b")
        assert queued.snapshot().state == "stopped" and training.queue_position("cancel-b") is None
    finally:
        training.stop_job("cancel-a")
        first.wait(HANG_S)


def test_a_training_larger_than_the_limit_is_refused(monkeypatch, digits):
    from vae.ui.training import jobs as training

    monkeypatch.setenv("VAE_MAX_TRAINING_IMAGES", "10000")
    with pytest.raises(ValueError, match="at most 10,000"):
        training.start_job("too-big", *_configs(500), digits)
    assert training.job_for("too-big") is None


def test_a_finished_job_gives_its_data_back_and_can_still_resume(digits):
    from vae.ui.training import jobs as training

    job = training.start_job("release-a", *_configs(1, batch_size=128), digits)
    assert job.wait(HANG_S) and job.snapshot().state == "finished"
    deadline = time.monotonic() + HANG_S           # the run's process, and all its memory, are gone
    while alive(job.pid):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert job.latest_model() is not None
    training.resume_job("release-a", job, 1)
    assert job.wait(HANG_S)
    snap = job.snapshot()
    assert snap.state == "finished" and snap.epoch == 2


def test_a_job_whose_browser_is_gone_is_stopped_after_the_grace_and_its_files_removed(monkeypatch, digits, tmp_path):
    from vae.ui.hosting import janitor, scratch
    from vae.ui.training import jobs as training

    reg = training._registry()
    monkeypatch.setenv("VAE_ORPHAN_GRACE_S", "0")
    monkeypatch.setenv("VAE_RUN_FILES_TTL_S", "0")
    job = training.start_job("orphan-a", *_configs(500), digits)
    training.seen("orphan-a", "session-that-closed")
    reg.past["orphan-a"] = ["an earlier run's record"]          # this browser's earlier runs (run_history)
    monkeypatch.setattr(janitor, "session_is_active", lambda sid: sid != "session-that-closed")
    j = janitor.Janitor(reg, dispatch_queue=training.dispatch_queue, stop_job=training.stop_job,
                        scratch_dir=scratch.server_dir())
    j.sweep(time.time())                  # the session is gone: orphan since now
    j.sweep(time.time() + 1)              # grace 0 passed: stopped
    assert job.wait(HANG_S) and job.snapshot().state == "stopped"
    run_dir = Path(job.out_dir).parent
    j.tick(time.time() + 2)               # ended: noted
    j.sweep(time.time() + 3)              # TTL 0 passed: forgotten, files removed
    assert training.job_for("orphan-a") is None and "orphan-a" not in reg.past     # its earlier runs go too
    assert not run_dir.exists()


def test_a_sweep_keeps_the_files_of_a_server_that_runs_and_removes_an_ended_ones(tmp_path):
    """Two servers on one machine share its temporary folder. A janitor's sweep with a time limit of 0 (this
    suite's test above) removed every other process's run folders, among them the checkpoint the Train page's
    test in the next worker was about to resume from ("More epochs" stayed disabled: the resume had failed)."""
    import subprocess
    import sys

    from vae.ui.hosting import scratch

    base = tmp_path / "vae-explorer"
    own, own_lock = scratch.claim(base)
    # another server: a process that claims its folder, says which, and lives until its stdin closes
    code = ("import importlib.util as u, pathlib, sys; spec = u.spec_from_file_location('s', sys.argv[1]); "
            "m = u.module_from_spec(spec); spec.loader.exec_module(m); folder, _ = m.claim(pathlib.Path(sys.argv[2])); "
            "(folder / 'runs').mkdir(); print(folder, flush=True); sys.stdin.read()")
    other = subprocess.Popen([sys.executable, "-c", code, scratch.__file__, str(base)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        theirs = Path(other.stdout.readline().strip())
        assert theirs.parent == base and (theirs / "runs").is_dir()
        assert scratch.remove_ended_servers(base, 0, own=own) == 0
        assert (theirs / "runs").is_dir() and own.is_dir()
    finally:
        other.stdin.close()
        other.wait(HANG_S)
    assert scratch.remove_ended_servers(base, 3600, own=own) == 0       # ended, but younger than the limit
    assert theirs.is_dir()
    assert scratch.remove_ended_servers(base, 0, own=own) == 1
    assert not theirs.exists() and own.is_dir()
    own_lock.close()


def test_each_process_has_its_own_scratch_folder_for_runs_and_uploads():
    from vae.ui.hosting import scratch
    from vae.ui.training import jobs as training

    folder = scratch.server_dir()
    assert folder == scratch.server_dir() and folder.parent == scratch.root()
    assert scratch.uploads_dir().parent == folder
    assert training._registry().janitor.runs_dir == folder / scratch.RUNS_NAME


def test_a_sweep_removes_old_uploads_and_the_leftovers_of_an_upload_cut_short(monkeypatch, tmp_path):
    from vae.ui.hosting import janitor
    from vae.ui.training import jobs as training

    uploads = tmp_path / "server-1-00000000" / "uploads"
    uploads.mkdir(parents=True)
    old, cut, new = (uploads / "vae-upload-0123456789abcdef.zip", uploads / ".vae-upload-fedc.zip.x1.tmp",
                     uploads / "vae-upload-fedcba9876543210.zip")
    for f in (old, cut, new):
        f.write_bytes(b"x")
    for f in (old, cut):
        os.utime(f, (time.time() - 7200, time.time() - 7200))
    monkeypatch.setenv("VAE_RUN_FILES_TTL_S", "3600")
    j = janitor.Janitor(training._registry(), dispatch_queue=lambda: None, stop_job=lambda bid: None,
                        scratch_dir=uploads.parent)
    j.sweep(time.time())
    assert sorted(p.name for p in uploads.iterdir()) == [new.name]


def test_old_uploads_and_run_folders_are_removed(tmp_path):
    from vae.ui.hosting.janitor import remove_old_files

    old = tmp_path / "vae-upload-0123456789abcdef.zip"
    new = tmp_path / "vae-upload-fedcba9876543210.zip"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert remove_old_files(tmp_path, "vae-upload-*.zip", 3600) == 1
    assert not old.exists() and new.exists()


# ---------------------------------------------------------------------------------------------- memory

def test_switching_between_100_models_keeps_the_cache_under_its_bound(monkeypatch):
    from vae import VAE, ModelConfig
    from vae.ui.model_cache import ModelLRU, model_bytes

    cache = ModelLRU(max_bytes=lambda: 3 * 2**20)
    one = model_bytes(VAE(ModelConfig(latent_dim=2, hidden=(256,), image_size=28)))
    for i in range(100):
        cache.get_or_build((f"m{i}", "cpu"), lambda: VAE(ModelConfig(latent_dim=2, hidden=(256,), image_size=28)))
        assert cache.total_bytes <= max(3 * 2**20, one)
    assert len(cache) == (3 * 2**20) // one
    # the most recently used survives, the least recently used went first
    hit = cache.get_or_build(("m99", "cpu"), lambda: pytest.fail("m99 should be cached"))
    assert hit is not None


def test_the_posterior_grid_is_bounded_by_the_size_of_the_images():
    assert hosting.posterior_grid_size(784, 201) == 201                 # MNIST: the full grid
    g = hosting.posterior_grid_size(64 * 64 * 3, 201)
    assert g is not None and g < 201 and g % 2 == 1 and g * g * 64 * 64 * 3 <= hosting.limit("VAE_MAX_POSTERIOR_WORK")
    assert hosting.posterior_grid_size(256 * 256 * 3, 201) is None       # refused: IWAE only


# ---------------------------------------------------------------------------------------------- tasks

def test_a_failed_task_keeps_its_error_until_retried():
    from vae.ui import tasks

    calls = []

    def boom(progress):
        calls.append(1)
        raise ValueError("3-D t-SNE needs at least 3 latent dimensions")

    t = tasks.submit("test-boom", boom)
    t.thread.join(10)
    assert t.is_done and t.error == "ValueError: 3-D t-SNE needs at least 3 latent dimensions"
    assert tasks.submit("test-boom", boom) is t and len(calls) == 1      # no silent endless retries
    tasks.retry("test-boom")
    t2 = tasks.submit("test-boom", boom)
    t2.thread.join(10)
    assert t2 is not t and len(calls) == 2 and t2.error


def test_tasks_run_at_most_the_limit_at_once_and_nobody_waiting_cancels_them(monkeypatch):
    from vae.ui import tasks

    monkeypatch.setattr(tasks, "ABANDON_S", 0.5)
    reg = tasks._tasks()
    with reg.lock:
        reg.slots, reg.n_slots = None, 0
    monkeypatch.setenv("VAE_MAX_PROJECTIONS", "1")
    running, peak, lock = [0], [0], threading.Lock()

    def slow(progress):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            for i in range(100):
                progress(i, 100, "working")
                time.sleep(0.05)
        finally:
            with lock:
                running[0] -= 1

    started = [tasks.submit(f"test-slow-{i}", slow) for i in range(3)]
    for t in started:
        t.thread.join(30)
    assert peak[0] == 1
    # nobody polled them: every one was cancelled (the first mid-way, the others before starting)
    assert all(t.cancelled and "no page was waiting" in t.error for t in started)
    with reg.lock:
        reg.slots, reg.n_slots = None, 0


def test_tsne_3d_on_a_2d_model_shows_its_error_and_a_retry(app):
    at = app("latent_map", sb_bundled="digits-2d")
    at.radio(key="map_method_True").set_value("tsne").run()
    at.radio(key="map_k").set_value(3).run()
    deadline = time.monotonic() + HANG_S
    while time.monotonic() < deadline and not at.error:
        time.sleep(0.3)
        at.run()
    assert any(e.value.startswith("t-SNE of") and "failed" in e.value for e in at.error), [e.value for e in at.error]
    assert any(b.label.startswith("Retry t-SNE") for b in at.button), [b.label for b in at.button]
    assert not at.exception


# ---------------------------------------------------------------------------------------------- errors

def test_a_page_error_shows_one_line_without_server_paths():
    from vae.ui.hosting.hosting_ui import public_message

    msg = public_message(OSError("/etc: alternatives/nodejs is larger than 64 MiB"))
    assert "/etc" not in msg and "larger than 64 MiB" in msg
    assert public_message(MemoryError()) == "MemoryError"


def test_the_config_shows_no_tracebacks_and_bounds_uploads():
    import tomllib

    cfg = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert cfg["client"]["showErrorDetails"] in ("type", "none")
    assert 0 < cfg["server"]["maxUploadSize"] <= 200


def test_interpolate_works_when_the_test_split_holds_one_image(app, monkeypatch):
    from vae.data import load_dataset
    from vae.ui import loaders

    import dataclasses

    from vae.data.datasets import Split

    full = load_dataset("digits")
    tiny = dataclasses.replace(full, test=Split(full.test.images[:1], full.test.labels[:1]))
    monkeypatch.setattr(loaders, "load_dataset_cached", lambda spec, progress=None: tiny)
    at = app("interpolate")
    assert not at.exception, [e.value for e in at.exception]
    assert any("steps of" in c for im in at.image for c in im.captions)


def test_a_projection_uses_one_thread_when_hosted(monkeypatch):
    monkeypatch.delenv("VAE_PROJECTION_THREADS", raising=False)
    monkeypatch.setenv(hosting.HOSTED_ENV, "1")
    assert hosting.projection_threads() == 1
    monkeypatch.delenv(hosting.HOSTED_ENV)
    assert hosting.projection_threads() is None
    monkeypatch.setenv("VAE_PROJECTION_THREADS", "3")
    assert hosting.projection_threads() == 3


def test_trainings_run_in_processes_at_a_lower_priority_than_pages(monkeypatch, digits):
    from vae.ui.training import jobs as training

    monkeypatch.setenv("VAE_TRAINING_NICE", "7")
    seen = {}
    job = training.start_job("nice-a", *_configs(500), digits)
    try:
        deadline = time.monotonic() + HANG_S
        while job.snapshot().step < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        seen["nice"] = int(Path(f"/proc/{job.pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
        group = Path(f"/proc/{job.pid}/autogroup")      # Linux's per-session scheduling, where enabled
        if group.exists() and Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1":
            seen["group"] = group.read_text().split()[-1]
            seen["own_group"] = group.read_text() != Path("/proc/self/autogroup").read_text()
        seen["page"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    finally:
        training.stop_job("nice-a")
        job.wait(HANG_S)
    assert seen["nice"] == seen["page"] + 7 or seen["nice"] == 19, seen
    if "group" in seen:             # a session of its own, itself niced: it yields to the pages' session too
        assert seen["own_group"] and seen["group"] == "7", seen


def test_hosted_training_uses_the_operators_copy_of_mnist(app, monkeypatch, tmp_path):
    """VAE_DATA_DIR, set by whoever starts the server, names the server's own IDX files: the Train page
    trains MNIST from them in hosted mode, where no browser may name a folder."""
    import numpy as np

    from vae.data.idx import write_idx
    from vae.ui import loaders

    folder = tmp_path / "datasets" / "mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 60), ("t10k", 20)):
        write_idx(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), folder / f"{split}-images-idx3-ubyte.gz")
        write_idx(rng.integers(0, 10, n, dtype=np.uint8), folder / f"{split}-labels-idx1-ubyte.gz")
    monkeypatch.setenv(hosting.HOSTED_ENV, "1")
    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    assert loaders.default_data_dir("mnist") is None
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "datasets"))
    assert loaders.default_data_dir("mnist") == str(folder.resolve())
    assert loaders.default_data_dir("fashion-mnist") is None         # no such subfolder
    train = app("train", tr_epochs_mnist=1)
    train.selectbox(key="tr_dataset").set_value("mnist").run()
    assert not [l for l in _labels(train) if "folder" in l.lower()], _labels(train)
    next(b for b in train.button if b.label == "Start").click()
    train.run()
    assert not train.exception, [e.value for e in train.exception]
    assert not [e.value for e in train.error if "No training data" in str(e.value)]
    from vae.ui.training import jobs as training

    bid = train.session_state["_vae_browser_id"]
    job = training.job_for(bid)
    try:
        assert job is not None and job.train_config.data_dir == str(folder.resolve())
        assert job.wait(HANG_S) and job.snapshot().state == "finished", job.snapshot().error
    finally:
        training.stop_job(bid)


def test_the_umap_warm_up_runs_once_in_a_background_thread_and_can_be_turned_off(monkeypatch):
    """vae.ui.warmup: one daemon thread per process compiles UMAP's numba code after the first page;
    VAE_WARMUP=0 turns it off (the tests' default)."""
    from vae.ui import warmup

    calls = []
    monkeypatch.setattr(warmup, "_warm_umap", lambda: calls.append(1))
    warmup.start_background_warmup.clear()
    monkeypatch.setenv("VAE_WARMUP", "0")
    assert warmup.start_background_warmup() is None
    warmup.start_background_warmup.clear()
    monkeypatch.setenv("VAE_WARMUP", "1")
    thread = warmup.start_background_warmup()
    thread.join(timeout=60)
    assert thread.name == "vae-warmup" and thread.daemon and calls == [1]
    assert warmup.start_background_warmup() is thread            # once per process
    warmup.start_background_warmup.clear()
