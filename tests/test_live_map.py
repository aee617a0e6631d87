"""vae.analysis.live_map: frames of the latent means while training, and their place in a TrainingJob."""

from __future__ import annotations

import numpy as np
import torch

from vae import VAE, ModelConfig
from vae.analysis.live_map import LiveLatentMap, fixed_axes, pca_2d
from vae.config import TrainConfig
from vae.data import load_dataset
from vae.train.job import TrainingJob
from tests.waits import HANG_S


def test_pca_2d_keeps_the_previous_frames_orientation():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(500, 6)) * np.array([5, 2, 1, 0.5, 0.1, 0.1])
    xy, explained = pca_2d(mu)
    assert xy.shape == (500, 2) and xy.dtype == np.float32
    assert explained[0] > explained[1] > 0 and sum(explained) <= 1
    flipped, _ = pca_2d(mu, previous=-xy)               # told the previous frame was mirrored
    np.testing.assert_allclose(flipped, -xy, atol=1e-4)
    again, _ = pca_2d(mu, previous=xy)
    np.testing.assert_allclose(again, xy, atol=1e-4)


def test_capture_is_the_latent_space_itself_for_2d_models_and_restores_train_mode():
    ds = load_dataset("digits")
    torch.manual_seed(0)
    model = VAE(ModelConfig(latent_dim=2, hidden=(32,), image_size=8)).train()
    live = LiveLatentMap.from_dataset(ds, n_max=100)
    frame = live.capture(model, 0.0, 0)
    assert model.training
    x = ds.test.images[torch.from_numpy(live.index)].float() / 255
    with torch.inference_mode():
        mu, _ = model.eval().encode(x)
    np.testing.assert_allclose(frame.xy, mu.numpy(), atol=1e-5)
    data = live.data()
    assert data.projection == "latent" and len(data.frames) == 1 and data.labels.shape == (100,)
    assert len(set(live.index.tolist())) == 100


def test_captures_are_rate_limited_but_the_forced_ones_happen():
    ds = load_dataset("digits")
    model = VAE(ModelConfig(latent_dim=4, hidden=(16,), image_size=8))
    live = LiveLatentMap.from_dataset(ds, n_max=50, interval_s=1e9, max_overhead=1e-9)
    assert live.maybe_capture(model, 0.0, 0)                        # the first is always taken
    assert not live.maybe_capture(model, 0.5, 5)                    # not due (interval)
    assert not live.maybe_capture(model, 1.0, 10, epoch_end=True)   # due, but over the cost budget
    assert live.maybe_capture(model, 2.0, 20, epoch_end=True, force=True)
    data = live.data()
    assert [f.epoch for f in data.frames] == [0.0, 2.0] and data.skipped == 1 and data.projection == "PCA"
    (x0, x1), (y0, y1) = fixed_axes(data.frames)
    for f in data.frames:
        assert (np.quantile(f.xy[:, 0], 0.5) > x0) and (np.quantile(f.xy[:, 1], 0.5) < y1)


def test_a_training_job_records_frames_from_the_initial_weights_to_the_last_epoch():
    ds = load_dataset("digits")
    job = TrainingJob(ModelConfig(latent_dim=3, hidden=(32,), image_size=8),
                      TrainConfig(dataset="digits", epochs=3, batch_size=256, seed=1), ds, device="cpu")
    job.start()
    assert job.wait(HANG_S)
    snap = job.snapshot()
    assert snap.state == "finished", snap.error
    frames = snap.live_map.frames
    assert frames[0].epoch == 0.0 and frames[-1].epoch == 3.0 and frames[-1].step == snap.step
    assert all(f.xy.shape == (len(ds.test), 2) for f in frames)       # digits' test split is < 2000
    assert not np.allclose(frames[0].xy, frames[-1].xy)               # it learned something
    off = TrainingJob(ModelConfig(latent_dim=3, hidden=(32,), image_size=8),
                      TrainConfig(dataset="digits", epochs=1, batch_size=256), ds, device="cpu", live_map=False)
    off.start()
    assert off.wait(HANG_S) and off.snapshot().live_map is None


def test_the_replay_figure_has_fixed_axes_a_frame_per_capture_and_colours_by_factor():
    from vae.ui.training.live_map import live_map_figure, replay_frames

    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (40, 1, 8, 8), dtype=torch.uint8, generator=g)
    live = LiveLatentMap(images, torch.arange(40) % 3, class_names=["a", "b", "c"],
                         factors=torch.rand(40, 2, generator=g), factor_names=["x", "scale"])
    model = VAE(ModelConfig(latent_dim=2, hidden=(16,), image_size=8))
    for epoch in range(5):
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(1.3)
        live.capture(model, float(epoch), epoch * 10)
    data = live.data()
    fig = live_map_figure(data, "label", replay=True)
    assert len(fig.data) == 3 and len(fig.frames) == 5                      # a trace per class
    assert fig.layout.xaxis.autorange is False and fig.layout.sliders[0].active == 4
    by_factor = live_map_figure(data, "scale", replay=False)
    assert len(by_factor.data) == 1 and by_factor.data[0].marker.colorbar.title.text == "scale"
    assert not by_factor.frames
    assert replay_frames(tuple(range(200)), 60)[::59] == [0, 199]


def test_the_replay_note_says_how_many_of_the_runs_frames_it_plays():
    """A run with more frames than a replay holds: the note under the map counts the run's frames and says the
    replay plays MAX_REPLAY_FRAMES of them; with fewer, it plays them all."""
    from streamlit.testing.v1 import AppTest

    def page(n_frames: int):
        from types import SimpleNamespace

        import torch

        from vae import VAE, ModelConfig
        from vae.analysis.live_map import LiveLatentMap
        from vae.ui.training.live_map import live_map_panel

        g = torch.Generator().manual_seed(0)
        live = LiveLatentMap(torch.randint(0, 256, (20, 1, 8, 8), dtype=torch.uint8, generator=g),
                             torch.arange(20) % 2, class_names=["a", "b"])
        model = VAE(ModelConfig(latent_dim=2, hidden=(8,), image_size=8))
        for epoch in range(n_frames):
            live.capture(model, float(epoch), epoch)
        live_map_panel(SimpleNamespace(live_map=live.data()), running=False)

    for n, says in ((75, "Play plays 60 of them, evenly spaced"), (12, "Play plays the frames,")):
        at = AppTest.from_function(page, args=(n,), default_timeout=HANG_S).run()
        assert not at.exception, at.exception
        note = next(c.value for c in at.caption if "frames: latent means" in c.value)
        assert note.startswith(f"{n} frames: ") and says in note, note
