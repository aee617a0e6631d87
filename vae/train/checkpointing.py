"""A run's checkpoints, as functions the Trainer calls: what a checkpoint records of a run
(`run_state`), reading one back into a model and optimizer (`restore_run`), and the inputs of a
resumed run (`resume_inputs`: its model, recipe and data). The random streams derive from the
counters recorded here, so a resumed run continues exactly (weights, Adam state, history,
epoch / step / batch counters and the unfinished epoch's partial sums).

Files are written by vae.checkpoint (safetensors + JSON, atomically), on rank 0 only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vae.checkpoint import CheckpointError, load_model, load_optimizer_state
from vae.config import RESUMABLE_SCHEDULE_FIELDS, ConfigError, TrainConfig
from vae.train.inputs import load_training_data

__all__ = ["run_state", "empty_partial", "RestoredRun", "restore_run", "resume_inputs"]

EXTRA_SUMS = ("tc_sum", "disc_sum")   # the objective's running sums (vae.train.objective_terms.EXTRA_SUMS)


def empty_partial() -> dict[str, float | int]:
    """The running sums of an epoch not yet finished (nats over its images; n images; seconds)."""
    return {"loss_sum": 0.0, "recon_sum": 0.0, "kl_sum": 0.0, "iwae_sum": 0.0, **{k: 0.0 for k in EXTRA_SUMS},
            "n": 0, "seconds": 0.0}


def run_state(epoch: int, step: int, status: str, batch: int, partial: dict, world_size: int) -> dict[str, Any]:
    """The counters a checkpoint records (JSON): epoch/step done, position inside an unfinished epoch."""
    return {"epoch": epoch, "step": step, "status": status, "batch": batch,
            "partial": dict(partial), "world_size": world_size}


@dataclass
class RestoredRun:
    """Where a checkpointed run stands: its history and counters, as `run_state` recorded them."""

    history: list[dict[str, Any]]
    epoch: int            # epochs completed
    step: int             # optimiser steps completed
    batch: int            # batches completed within the unfinished epoch (0: restart it)
    partial: dict         # the unfinished epoch's running sums
    status: str
    state: dict = dataclasses.field(default_factory=dict)   # the run state as recorded (e.g. the discriminator's)


def restore_run(path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                epoch_steps: int, world_size: int, partial: dict) -> RestoredRun:
    """Load checkpoint folder `path` into `model` and `optimizer` and return its counters.

    `epoch_steps` and `world_size` are the resuming run's: a different batching restarts the
    unfinished epoch. `partial` is the empty running-sum dict whose keys and types are kept.
    """
    loaded = load_model(path)
    model.load_state_dict(loaded.state_dict())
    if not load_optimizer_state(path, optimizer):
        raise ValueError(f"{path} holds no optimizer state, so it cannot be resumed exactly "
                         "(it was saved without one, e.g. a bundled asset); train a new run instead")
    info = loaded.checkpoint_info
    state = info.get("state") or {}
    history = [dict(r) for r in info.get("metrics") or []]
    epoch = int(state.get("epoch", len(history)))
    step = int(state.get("step", 0))
    batch = int(state.get("batch", 0))
    if batch >= epoch_steps or state.get("world_size", 1) != world_size:
        batch = 0      # a different batching: restart the unfinished epoch
    restored_partial = dict(partial)
    if batch:
        restored_partial = {k: type(v)(state["partial"].get(k, 0)) for k, v in partial.items()}
    return RestoredRun(history=history, epoch=epoch, step=step, batch=batch, partial=restored_partial,
                       status=state.get("status", "stopped"), state=dict(state))


def resume_inputs(path: str | Path, dataset=None, epochs: int | None = None, *, data_dir: str | None = None,
                  schedule: dict[str, Any] | None = None):
    """(model in training mode, data set, TrainConfig) to continue checkpoint `path`.

    `epochs` is the new total (default: the recorded recipe's); `schedule` changes the learning-rate
    schedule from here on (keys of RESUMABLE_SCHEDULE_FIELDS). The data set is loaded as recorded in
    the checkpoint unless given.
    """
    model = load_model(path)
    info = model.checkpoint_info
    if not info.get("train"):
        raise CheckpointError(f"{path} records no training recipe, so it cannot be resumed")
    try:
        config = TrainConfig.from_dict(info["train"])
    except ConfigError as e:
        raise CheckpointError(f"{path}/config.json: its training recipe is invalid: {e}") from None
    changes: dict[str, Any] = dict(schedule or {})
    unknown = sorted(set(changes) - set(RESUMABLE_SCHEDULE_FIELDS))
    if unknown:
        raise ValueError(f"a resumed run can change only {RESUMABLE_SCHEDULE_FIELDS} of its recipe, "
                         f"not {unknown}")
    if epochs is not None:
        changes["epochs"] = int(epochs)
    config = dataclasses.replace(config, **changes)   # validates the new recipe
    if dataset is None:
        dataset = load_training_data(config, data_dir=data_dir)
    return model.train(), dataset, config
