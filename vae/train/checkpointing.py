"""A Trainer's checkpoints: what a checkpoint records of a run (`state`), writing one after every
epoch or stop (`_save`), reading one back (`_restore`) and `Trainer.resume`, which continues a run
from its checkpoint folder exactly (weights, Adam state, history, epoch / step / batch counters and
the unfinished epoch's partial sums; the random streams derive from those counters).

`CheckpointMixin` is a part of `vae.train.trainer.Trainer`; its methods read and set the trainer's
`model`, `optimizer`, `config`, `history`, `epoch`, `step`, `batch`, `_partial`, `out_dir`,
`overwrite`, `save_optimizer`, `checkpoint_path`, `_saved_at`, `status`, `dist` and `_info`.
Files are written by vae.checkpoint (safetensors + JSON, atomically), on rank 0 only.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from vae.checkpoint import load_model, load_optimizer_state, save_model
from vae.config import RESUMABLE_SCHEDULE_FIELDS, ConfigError, TrainConfig
from vae.train.inputs import load_training_data

if TYPE_CHECKING:
    from vae.train.trainer import Trainer

__all__ = ["CheckpointMixin"]


class CheckpointMixin:
    """Saving, restoring and resuming a Trainer's run."""

    def state(self, status: str) -> dict[str, Any]:
        """The counters a checkpoint records (JSON): epoch/step done, position inside an unfinished epoch."""
        return {"epoch": self.epoch, "step": self.step, "status": status, "batch": self.batch,
                "partial": dict(self._partial), "world_size": self.dist.world_size}

    def _save(self, status: str) -> None:
        if self.out_dir is None or not self.is_main:
            return
        self.checkpoint_path = save_model(
            self.model, self.out_dir, train_config=self.config, metrics=self.history,
            state=self.state(status), optimizer=self.optimizer if self.save_optimizer else None,
            dataset=self._info, overwrite=self.overwrite)
        self.overwrite = True          # from now on out_dir holds this run's own checkpoint
        self._saved_at = (self.epoch, self.step)

    def _restore(self, path: str | Path) -> None:
        """Continue from checkpoint folder `path`: weights, optimizer, history and counters."""
        loaded = load_model(path)
        self.model.load_state_dict(loaded.state_dict())
        if not load_optimizer_state(path, self.optimizer):
            raise ValueError(f"{path} holds no optimizer state, so it cannot be resumed exactly "
                             "(it was saved without one, e.g. a bundled asset); train a new run instead")
        info = loaded.checkpoint_info
        state = info.get("state") or {}
        self.history = [dict(r) for r in info.get("metrics") or []]
        self.epoch = int(state.get("epoch", len(self.history)))
        self.step = int(state.get("step", 0))
        self.batch = int(state.get("batch", 0))
        if self.batch >= self.steps_per_epoch or state.get("world_size", 1) != self.dist.world_size:
            self.batch = 0      # a different batching: restart the unfinished epoch
        if self.batch:
            self._partial = {k: type(v)(state["partial"].get(k, 0)) for k, v in self._partial.items()}
        self.checkpoint_path = Path(path)
        self._saved_at = (self.epoch, self.step)
        self.status = state.get("status", "stopped")

    @classmethod
    def resume(cls, path: str | Path, dataset=None, epochs: int | None = None, *,
               out_dir: str | Path | None = None, device: str | torch.device | None = None,
               data_dir: str | None = None, schedule: dict[str, Any] | None = None, **kwargs) -> "Trainer":
        """A Trainer that continues checkpoint `path` (model, optimizer, history, epoch/step, RNG streams).

        `epochs` is the new total (default: the recorded recipe's); epochs already done count.
        `schedule` changes the learning-rate schedule from here on (keys of RESUMABLE_SCHEDULE_FIELDS,
        e.g. {"lr_schedule": "cosine", "lr_decay_start": 200}); steps already taken keep their rates,
        which the history records per epoch.
        The data set is loaded as recorded in the checkpoint unless given. Writes go to `out_dir`
        (default: `path` itself).
        """
        from vae.checkpoint import CheckpointError

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
        return cls(model.train(), dataset, config, out_dir=out_dir if out_dir is not None else path,
                   device=device, resume_from=path, **kwargs)
