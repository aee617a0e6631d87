"""The training objectives, in one registry: the one place a new objective is named and described.

    from vae.objective_specs import OBJECTIVE_SPECS, objective_spec
    spec = objective_spec("iwae")
    spec.loss_function()            # vae.objectives.iwae_output (imported on first use)
    spec.loss_kwargs(config, 60000) # {"k": 5}: what VAE.forward passes on to it during training

A spec says what the objective is called and how it is explained (the command line's --objective help and
the Train page read it), which TrainConfig fields only it reads (`options`: the recipe writes their flags,
and a config that sets one for another objective is refused), the loss function VAE.forward calls (as
"module:function", so this module imports no torch), what the warm-up ramps, and whether the trainer
adds FactorVAE's discriminator. `vae.config.OBJECTIVES` is this registry's names.

To add an objective whose loss needs nothing but the batch: write its loss function (model, x, *, beta,
target, generator, **kwargs) -> vae.objectives.VAEOutput beside the others and add an ObjectiveSpec to
_SPECS below. It then trains from the command line, the Train page and a sweep.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["ObjectiveSpec", "OBJECTIVE_SPECS", "objective_spec"]


def _no_kwargs(config, dataset_size: int) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class ObjectiveSpec:
    """One training objective."""

    name: str                       # the --objective value and TrainConfig.objective, e.g. "tcvae"
    label: str                      # shown in the app: "beta-TCVAE"
    summary: str                    # one clause for --help and the Train page
    loss: str                       # "module:function" VAE.forward calls: (model, x, *, beta, target, generator, **kw)
    loss_kwargs: Callable[[Any, int], dict[str, Any]] = _no_kwargs   # (TrainConfig, training images) -> its kwargs
    options: tuple[str, ...] = ()   # TrainConfig fields only this objective reads (each a --flag of the same name)
    warmup_ramps: str = "kl"        # "kl": the warm-up ramps the KL weight beta; "regulariser": the whole regulariser
    scores_own_bound: bool = False  # the test score also reports this objective's own bound (IWAE: test_iwae_loss)
    penalises_tc: bool = False      # penalises the total correlation of q(z) (records train_tc)
    discriminator: bool = False     # the trainer adds FactorVAE's discriminator (vae.train.discriminator)

    def loss_function(self) -> Callable:
        """The loss function named by `loss` (imported on first use, then remembered: VAE.forward asks every step)."""
        return _resolve(self.loss)


@functools.cache
def _resolve(path: str) -> Callable:
    """"module:function" -> the function."""
    module, _, function = path.partition(":")
    return getattr(importlib.import_module(module), function)


_SPECS = (
    ObjectiveSpec("elbo", "ELBO", "the one-sample ELBO", loss="vae.objectives:elbo_output"),
    ObjectiveSpec("iwae", "IWAE bound", "Burda et al.'s k-sample importance-weighted bound",
                  loss="vae.objectives:iwae_output", loss_kwargs=lambda c, n: {"k": int(c.k)}, options=("k",),
                  scores_own_bound=True),
    ObjectiveSpec("tcvae", "beta-TCVAE", "beta-TCVAE (Chen et al. 2018), which weighs only the total correlation "
                  "of the KL by beta (minibatch-weighted sampling)", loss="vae.objectives_tc:tcvae_output",
                  loss_kwargs=lambda c, n: {"dataset_size": int(n), "tc_weight": float(c.beta)},
                  warmup_ramps="regulariser", penalises_tc=True),
    ObjectiveSpec("factorvae", "FactorVAE", "FactorVAE (Kim & Mnih 2018), the ELBO minus gamma times a "
                  "discriminator's estimate of the total correlation", loss="vae.objectives:elbo_output",
                  options=("gamma", "disc_hidden", "disc_lr"), penalises_tc=True, discriminator=True),
)

OBJECTIVE_SPECS: dict[str, ObjectiveSpec] = {s.name: s for s in _SPECS}


def objective_spec(name: str) -> ObjectiveSpec:
    """The registered objective called `name`; ValueError naming the known ones otherwise."""
    try:
        return OBJECTIVE_SPECS[name]
    except KeyError:
        raise ValueError(f"unknown objective {name!r}: {', '.join(OBJECTIVE_SPECS)}") from None
