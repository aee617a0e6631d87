"""The two registries (issue 24): a projection method or a training objective is added in one place, and the
command line, the app's choices, links, recipes and sweeps pick it up. Each test registers a new entry the
way a contributor would (here through monkeypatch) and uses it end to end."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from vae import ModelConfig, TrainConfig
from vae.analysis import projection_methods as pm
from vae.analysis.large_map import project_all
from vae.analysis.projection import project_pca
from vae import objective_specs as os_
from vae.train import Trainer, make_model
from vae.train.recipe import train_command_args

pytestmark = pytest.mark.usefixtures("one_thread")


def _first_axis(mu, n_components=2, *, seed=0, progress=None, threads=None, scale=1.0):
    """A toy 'projection': PCA scaled by `scale` (a setting)."""
    proj = project_pca(mu, n_components)
    return dataclasses.replace(proj, embedding=proj.embedding * float(scale))


@pytest.fixture
def a_new_projection(monkeypatch):
    setting = pm.Setting("scale", "Scale", (1, 2, 4), 2, url="scale", state_key="map_scale", cast=float)
    method = pm.ProjectionMethod("scaled", "scaled PCA", _first_axis, describe=lambda p: "scaled PCA",
                                 settings=(setting,))
    monkeypatch.setitem(pm.PROJECTIONS, "scaled", method)
    return method


def test_the_built_in_projections_are_registered_with_their_settings():
    assert list(pm.PROJECTIONS) == ["pca", "tsne", "umap"]
    assert pm.projection_method("tsne").defaults() == {"perplexity": 30.0}
    assert pm.projection_method("umap").defaults() == {"n_neighbors": 15}
    assert [m.max_components(2) for m in pm.PROJECTIONS.values()] == [2, 3, 3]
    with pytest.raises(ValueError, match="unknown projection method 'isomap': pca, tsne, umap"):
        pm.projection_method("isomap")


def test_a_registered_projection_maps_every_row_and_is_offered_by_the_command_line(a_new_projection):
    mu = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    emb, info = project_all(mu, "scaled", scale=4.0)
    assert info["method"] == "scaled" and info["fitted"] == 50 and info["placed"] == 0
    np.testing.assert_allclose(emb, project_pca(mu, 2).embedding * 4, rtol=1e-6)

    from vae.cli import build_parser
    args = build_parser().parse_args(["project", "run", "--method", "scaled", "--out", "x.npz"])
    assert args.method == "scaled"


def test_a_registered_projection_is_a_background_task_and_a_link_parameter(a_new_projection, monkeypatch):
    from vae.ui import tasks, url_state

    mu = np.random.default_rng(1).normal(size=(40, 3)).astype(np.float32)
    task = tasks.projection_task("test-registry-scaled", mu, "scaled", 2, scale=2.0)
    task.thread.join()
    assert task.error is None and task.is_done
    np.testing.assert_allclose(task.result.embedding, project_pca(mu, 2).embedding * 2, rtol=1e-6)
    # url_state reads the registry when imported: reload it with the new method in place
    import importlib
    reloaded = importlib.reload(url_state)
    try:
        assert "scaled" in reloaded.PROJECTIONS and "map_scale" in reloaded.MAP_KEYS
    finally:
        monkeypatch.delitem(pm.PROJECTIONS, "scaled")
        importlib.reload(url_state)


# ---- objectives ------------------------------------------------------------------------------------

SMALL = ModelConfig(image_size=8, hidden=(32,), latent_dim=3)


def test_the_built_in_objectives_are_registered():
    assert list(os_.OBJECTIVE_SPECS) == ["elbo", "iwae", "tcvae", "factorvae"]
    from vae.config import OBJECTIVES, TC_OBJECTIVES
    assert OBJECTIVES == ("elbo", "iwae", "tcvae", "factorvae") and TC_OBJECTIVES == ("tcvae", "factorvae")
    from vae.objectives import iwae_output
    assert os_.objective_spec("iwae").loss_function() is iwae_output
    with pytest.raises(ValueError, match="unknown objective 'vq': elbo, iwae, tcvae, factorvae"):
        os_.objective_spec("vq")


def test_a_registered_objective_trains_from_the_library_and_its_recipe_parses_back(digits, monkeypatch):
    """An objective added in one place: its loss function (here the ELBO's, under a new name) and a spec."""
    spec = os_.ObjectiveSpec("elbo2", "ELBO again", "the ELBO under another name", loss="vae.objectives:elbo_output")
    monkeypatch.setitem(os_.OBJECTIVE_SPECS, "elbo2", spec)

    def run(objective):
        config = TrainConfig(epochs=1, batch_size=128, lr=3e-3, seed=0, device="cpu", objective=objective)
        trainer = Trainer(make_model(SMALL, seed=0), digits, config)
        return trainer.run()[-1]["train_loss"], config

    loss_new, config = run("elbo2")
    loss_elbo, _ = run("elbo")
    assert loss_new == pytest.approx(loss_elbo, rel=0, abs=1e-9)        # the same loss, the same noise

    args = train_command_args(SMALL, config)
    assert args[args.index("--objective") + 1] == "elbo2"
    from vae.cli import build_parser
    assert build_parser().parse_args(["train", *args]).objective == "elbo2"


def test_an_objectives_options_become_its_recipe_flags():
    config = TrainConfig(objective="factorvae", gamma=6.0, disc_hidden=(64, 64), disc_lr=2e-4)
    args = train_command_args(SMALL, config)
    i = args.index("--gamma")
    assert args[i:i + 6] == ["--gamma", "6", "--disc-hidden", "64", "64", "--disc-lr"]
    assert float(args[i + 6]) == 2e-4
    args = train_command_args(SMALL, TrainConfig(objective="iwae", k=5))
    assert args[args.index("--k") + 1] == "5"
    assert "--k" not in train_command_args(SMALL, TrainConfig(objective="tcvae"))


def test_forward_with_a_named_objective_equals_the_direct_call(digits):
    from vae.objectives_tc import tcvae_output

    model = make_model(SMALL, seed=0)
    x = digits.train.images[:32].float() / 255
    a = model(x, objective="tcvae", generator=torch.Generator().manual_seed(3), dataset_size=1000, tc_weight=4.0)
    b = tcvae_output(model, x, dataset_size=1000, tc_weight=4.0, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a.loss, b.loss) and torch.equal(a.tc, b.tc)
