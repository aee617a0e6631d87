"""Training: the `Trainer`, which knows nothing of the model beyond `VAE.forward` and trains in the
caller's thread (`vae.train.job.TrainingJob` runs one in a background thread, and
`vae.train.process_job.ProcessTrainingJob`, what the app uses, in a child process).

    model = make_model(ModelConfig(image_size=8, hidden=(64,), latent_dim=2), seed=0)
    trainer = Trainer(model, load_dataset("digits"), TrainConfig(epochs=5), out_dir="runs/x")
    trainer.add_callback("on_epoch_end", lambda t, rec: print(rec["epoch"], rec["test_loss"]))
    history = trainer.run()

The hot path keeps the whole training split on the device as ONE float tensor in [0, 1] and
indexes batches from a seeded permutation: no per-sample DataLoader. The batch order, the
binarisation draws and the reparameterisation noise all derive from (config.seed, epoch, step), so a
run stopped mid-epoch and resumed from its checkpoint continues exactly as if it had not stopped.

Units: every loss is nats per image, summed over pixels. In the per-epoch records `train_loss` and
`test_loss` are the negative ELBO with beta = 1 (recon + kl), `recon` is the reconstruction loss
-E_q[log p(x|z)] and `kl` is KL(q(z|x) || p(z)), all means over the images of the epoch / test split.
A run with objective "iwae" trains on the k-sample bound (vae.objectives) and its records add
`train_iwae_loss` and `test_iwae_loss`, the negative IWAE_k bound (its recon averages the k samples).
"tcvae" and "factorvae" (objective_terms.py: beta-TCVAE, FactorVAE's discriminator) add `train_tc`.

Scale-out: under `torchrun` (WORLD_SIZE > 1 in the environment) the Trainer joins the process
group (gloo on CPU, nccl on CUDA), wraps the model in DistributedDataParallel, gives each rank a
disjoint shard of every epoch's permutation, all-reduces the metrics, and lets rank 0 alone write
checkpoints and call the callbacks.

This module holds the setup, the loop and the divergence guard; the Trainer calls its other parts,
which know nothing of it: schedule.py (steps per epoch, beta and learning rate at a step, pure
functions), evaluation.py (the test-split score, TEST_BINARIZE_SEED, EVAL_BATCH) and
checkpointing.py (what a checkpoint records, restoring one, the inputs of a resumed run) and
objective_terms.py (the objective's loss, FactorVAE's discriminator and its checkpointed state).
"""

from __future__ import annotations

import copy
import gc
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from vae.checkpoint import check_destination, load_trainer_tensors, save_model
from vae.config import TrainConfig
from vae.device import pick_device
from vae.model import VAE
from vae.objectives import step_sums
import vae.train.schedule as clock
from vae.train.checkpointing import empty_partial as _empty_partial, restore_run, resume_inputs, run_state
from vae.train.distributed import Distributed
from vae.train.divergence import DIVERGENCE_FACTOR, TrainingDiverged, chance_loss_nats, step_problem, what_was_kept
from vae.train.evaluation import TEST_BINARIZE_SEED, evaluate_test_split
from vae.train.inputs import _binarize, _mix, _same_path, dataset_info, device_data, make_adam
from vae.train.objective_terms import EXTRA_SUMS, ObjectiveTerms

__all__ = ["Trainer", "EVENTS"]

EVENTS = ("on_step_end", "on_epoch_end", "on_train_end")


# ---------------------------------------------------------------------------------------------
# the Trainer
# ---------------------------------------------------------------------------------------------

class Trainer:
    """Trains a VAE on an ImageDataset with Adam, following a TrainConfig.

    `run()` trains until `config.epochs` epochs are done (counting epochs already done when the
    trainer was resumed) and returns the per-epoch history. `status` is "pending", "running",
    "stopped" (after `stop()`), "finished" or "failed" (after TrainingDiverged).
    The model is moved to the chosen device in place.
    """

    def __init__(self, model: VAE, dataset, config: TrainConfig, *, out_dir: str | Path | None = None,
                 device: str | torch.device | None = None, sync_every: int | None = None,
                 resume_from: str | Path | None = None, save_optimizer: bool = True, overwrite: bool = False):
        self.config = copy.deepcopy(config)
        self.dataset = dataset
        self.out_dir = Path(out_dir) if out_dir is not None else None
        # replacing a checkpoint already in out_dir: only when asked, or when continuing that very run
        self.overwrite = overwrite or (resume_from is not None and self.out_dir is not None
                                       and _same_path(resume_from, self.out_dir))
        self.save_optimizer = save_optimizer   # False: smaller checkpoints that cannot be resumed
        self.dist = Distributed.from_env()
        if self.dist.enabled and not dist.is_initialized():
            device_pref = device if device is not None else config.device
            backend = "nccl" if pick_device(device_pref).type == "cuda" else "gloo"
            dist.init_process_group(backend=backend)
        self.device = pick_device(device if device is not None else config.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        if tuple(model.config.image_shape) != tuple(dataset.image_shape):
            raise ValueError(f"the model takes images of shape {model.config.image_shape} but data set "
                             f"{dataset.name!r} holds {tuple(dataset.image_shape)}; set the model's "
                             "channels / image_size to match (or resize the data with image_size)")
        from vae.data import require_training_split
        require_training_split(dataset)   # DataError: no training images, e.g. a bundled test split
        if self.out_dir is not None and self.dist.rank == 0:
            check_destination(self.out_dir, self.overwrite)     # refuse now, not after the first epoch
        self.model = model.to(self.device)
        self.net: torch.nn.Module = self.model
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel
            self.net = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.optimizer = make_adam(self.model, self.config.lr, self.device)
        # host sync (one .tolist()) every `sync_every` steps: free on the CPU, a stall on a GPU
        self.sync_every = sync_every or (1 if self.device.type == "cpu" else 20)
        self.callbacks: dict[str, list[Callable]] = {e: [] for e in EVENTS}
        self.history: list[dict[str, Any]] = []
        self.epoch = 0        # epochs completed
        self.step = 0         # optimiser steps completed
        self.batch = 0        # batches completed within the current (unfinished) epoch
        self._partial = _empty_partial()
        self.status = "pending"
        self.error: str | None = None
        self.checkpoint_path: Path | None = None
        self._saved_at: tuple[int, int] | None = None   # (epoch, step) of the last checkpoint written
        self._stop = threading.Event()
        self._info = dataset_info(dataset, self.config)
        self.explosion_nats = DIVERGENCE_FACTOR * chance_loss_nats(model.config)   # per image, see chance_loss_nats
        self.load_data(dataset)
        self.noise = torch.Generator(device=self.device)
        # the objective's part of a step (tcvae: N = the training images; factorvae: the discriminator)
        self.terms = ObjectiveTerms(self.config, model.config.latent_dim, len(self.x_train), self.device, self.dist)
        self._objective = self.terms.eval_kwargs   # VAE.forward kwargs of the test score (iwae: k)
        if resume_from is not None:
            self._restore(resume_from)

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
        model, dataset, config = resume_inputs(path, dataset, epochs, data_dir=data_dir, schedule=schedule)
        return cls(model, dataset, config, out_dir=out_dir if out_dir is not None else path,
                   device=device, resume_from=path, **kwargs)

    # ---- the clock (vae.train.schedule) ----------------------------------------------------
    @property
    def shard_size(self) -> int:
        """Training images this rank sees per epoch."""
        return len(self.x_train) // self.dist.world_size if self.dist.enabled else len(self.x_train)

    @property
    def steps_per_epoch(self) -> int:
        return clock.steps_per_epoch(self.shard_size, self.config.batch_size)

    @property
    def total_steps(self) -> int:
        return self.config.epochs * self.steps_per_epoch

    def beta_at(self, step: int) -> float:
        """KL weight at optimiser step `step` (0-based): rises linearly from 0 to beta over `warmup` epochs."""
        return clock.beta_at(self.config, step, self.steps_per_epoch)

    def lr_at(self, step: int) -> float:
        """Learning rate of optimiser step `step` (0-based), from the recipe's schedule."""
        return clock.lr_at(self.config, step, self.steps_per_epoch)

    def _set_lr(self, step: int) -> None:
        clock.set_lr(self.optimizer, self.lr_at(step))

    # ---- the test score (vae.train.evaluation) ---------------------------------------------
    def evaluate(self) -> dict[str, float]:
        """Negative ELBO (beta = 1) of the test split, nats per image (see evaluate_test_split)."""
        return evaluate_test_split(self.model, self.x_test, self.config, self._objective, self.dist, self.device)

    # ---- checkpoints (vae.train.checkpointing) ---------------------------------------------
    def state(self, status: str) -> dict[str, Any]:
        """The counters a checkpoint records (JSON): epoch/step done, position inside an unfinished epoch."""
        return run_state(self.epoch, self.step, status, self.batch, self._partial, self.dist.world_size)

    def _save(self, status: str) -> None:
        if self.out_dir is None or not self.is_main:
            return
        tensors, meta = self.terms.state_tensors() if self.save_optimizer else (None, {})
        self.checkpoint_path = save_model(
            self.model, self.out_dir, train_config=self.config, metrics=self.history,
            state={**self.state(status), **meta}, optimizer=self.optimizer if self.save_optimizer else None,
            dataset=self._info, overwrite=self.overwrite, trainer_tensors=tensors)
        self.overwrite = True          # from now on out_dir holds this run's own checkpoint
        self._saved_at = (self.epoch, self.step)

    def _restore(self, path: str | Path) -> None:
        """Continue from checkpoint folder `path`: weights, optimizer, history and counters."""
        run = restore_run(path, self.model, self.optimizer, self.steps_per_epoch, self.dist.world_size,
                          self._partial)
        self.terms.restore(path, run.state, load_trainer_tensors(path))
        self.history, self.epoch, self.step, self.batch = run.history, run.epoch, run.step, run.batch
        self._partial = run.partial
        self.checkpoint_path = Path(path)
        self._saved_at = (self.epoch, self.step)
        self.status = run.status

    # ---- setup ----------------------------------------------------------------------------
    def load_data(self, dataset) -> None:
        """The data, once, on the device: x_train (N, C, H, W) and x_test (M, C, H, W) float in [0, 1]."""
        self.x_train, self.x_test = device_data(dataset, self.config, self.device, TEST_BINARIZE_SEED)

    def release_data(self) -> None:
        """Drop the float copies of the data (most of a finished trainer's memory); `load_data` brings them back."""
        self.x_train = self.x_train.new_empty((0, *self.x_train.shape[1:]))
        self.x_test = self.x_test.new_empty((0, *self.x_test.shape[1:]))

    @property
    def data_released(self) -> bool:
        return len(self.x_train) == 0

    def add_callback(self, event: str, fn: Callable) -> None:
        """Call `fn` on `event`: "on_step_end" fn(trainer, info), "on_epoch_end" fn(trainer, record),
        "on_train_end" fn(trainer). Callbacks run in the training thread, on rank 0 only.

        info: step (1-based, global), epoch (1-based), batch / batches (within the epoch), loss, recon,
        kl (this step's batch, nats per image; loss = recon + kl), beta (the KL weight used),
        epoch_loss (running mean of loss over the epoch so far), samples_per_s. On a GPU the host
        syncs every `sync_every` steps, so on_step_end then arrives in bursts (one call per step).
        """
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; expected one of {EVENTS}")
        self.callbacks[event].append(fn)

    def _fire(self, event: str, *args) -> None:
        if self.dist.rank == 0:
            for fn in self.callbacks[event]:
                fn(self, *args)

    def stop(self) -> None:
        """Ask the training loop to stop; it finishes the current step, checkpoints, and returns."""
        self._stop.set()

    @property
    def is_main(self) -> bool:
        return self.dist.rank == 0

    def close(self) -> None:
        """Under torchrun: wait for every rank, then tear the process group down. A no-op otherwise.

        DDP's reducer holds the process group; left to interpreter shutdown, gloo's threads can
        abort a process that trained and saved correctly (SIGABRT), so the wrapper goes first.
        """
        if not (self.dist.enabled and dist.is_initialized()):
            return
        if self.status in ("finished", "stopped"):
            dist.barrier()          # leave together, after rank 0 has saved
        self.net = self.model
        gc.collect()
        dist.destroy_process_group()

    # ---- the loop --------------------------------------------------------------------------
    def run(self) -> list[dict[str, Any]]:
        """Train up to `config.epochs` epochs in total; returns the history (one record per epoch).

        Raises TrainingDiverged on a non-finite loss or weights (the last good checkpoint stays).
        """
        if self.status == "failed":
            raise RuntimeError(f"this trainer failed ({self.error}); resume from its last checkpoint instead")
        self.status = "running"
        try:
            while self.epoch < self.config.epochs:
                if not self._run_epoch():
                    self._stop.clear()          # the request is consumed; a later run() continues
                    self.status = "stopped"
                    self._save("stopped")
                    break
            else:
                self.status = "finished"
                if self.checkpoint_path is None:   # nothing to train (epochs already done): still save
                    self._save("finished")
        except TrainingDiverged as e:
            self.status, self.error = "failed", str(e)
            raise
        except BaseException as e:
            self.status, self.error = "failed", f"{type(e).__name__}: {e}"
            raise
        self._fire("on_train_end")
        return self.history

    def _epoch_inputs(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(images used this epoch, this rank's batch order) for 0-based `epoch`."""
        x = self.x_train
        if self.config.binarize == "dynamic":
            x = _binarize(x, _mix(self.config.seed, 0xD1, epoch))
        g = torch.Generator().manual_seed(_mix(self.config.seed, 0xBA7C, epoch))
        perm = torch.randperm(len(x), generator=g)
        if self.dist.enabled:
            perm = perm[self.dist.rank::self.dist.world_size][: self.shard_size]
        return x, perm.to(self.device)

    def _run_epoch(self) -> bool:
        """Train the rest of epoch self.epoch + 1; returns False when stopped before its end."""
        cfg, B = self.config, self.config.batch_size
        x_all, perm = self._epoch_inputs(self.epoch)
        n_batches = self.steps_per_epoch
        part = self._partial
        self.model.train()
        t0 = time.perf_counter()
        seconds_before = part["seconds"]
        window: list[torch.Tensor] = []     # per step: (recon loss sum, kl sum) on the device
        sizes: list[int] = []
        stopped = False
        b = self.batch
        while b < n_batches:
            if self._stop.is_set():
                stopped = True
                break
            idx = perm[b * B:(b + 1) * B]
            x = x_all.index_select(0, idx)                              # (B, C, H, W); 2x faster than x_all[idx]
            self._set_lr(self.step)
            self.noise.manual_seed(_mix(cfg.seed, 0x2E, self.step, self.dist.rank))
            out, loss = self.terms.forward(self.net, x, step=self.step, epoch_steps=n_batches, generator=self.noise)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            window.append(torch.cat([step_sums(out), self.terms.after_step(out, self.noise)]))   # (5,)
            sizes.append(len(idx))
            b += 1
            self.step += 1
            if len(window) >= self.sync_every or b == n_batches:
                self._flush(window, sizes, b, n_batches, t0, seconds_before)
                window, sizes = [], []
            self.batch = b
        if window:
            self._flush(window, sizes, b, n_batches, t0, seconds_before)
        part["seconds"] = seconds_before + time.perf_counter() - t0
        if stopped:
            return False
        self._end_epoch()
        return True

    def _flush(self, window: list[torch.Tensor], sizes: list[int], b: int, n_batches: int,
               t0: float, seconds_before: float) -> None:
        """One host sync for the last len(window) steps: check they are finite, add them to the
        epoch's sums, fire on_step_end for each."""
        sums = torch.stack(window)                                       # (steps, 5)
        if self.dist.enabled:
            dist.all_reduce(sums)                                        # every rank sees a NaN anywhere
            sizes = [s * self.dist.world_size for s in sizes]
        values = sums.tolist()
        first_step = self.step - len(values) + 1
        part = self._partial
        for i, ((recon_sum, kl_sum, iwae_sum, *extra), n) in enumerate(zip(values, sizes)):
            step = first_step + i
            problem = step_problem(recon_sum, kl_sum, iwae_sum, n, step, self.epoch + 1, self.explosion_nats,
                                   extra_sum=sum(extra))
            if problem:
                self._diverged(problem)
            part["recon_sum"] += recon_sum
            part["kl_sum"] += kl_sum
            part["iwae_sum"] += iwae_sum
            for key, v in zip(EXTRA_SUMS, extra):
                part[key] += v
            part["loss_sum"] += recon_sum + kl_sum
            part["n"] += n
            if self.callbacks["on_step_end"] and self.is_main:
                seconds = seconds_before + time.perf_counter() - t0
                self._fire("on_step_end", {
                    "step": step, "epoch": self.epoch + 1, "batch": b - len(values) + i + 1,
                    "batches": n_batches, "loss": (recon_sum + kl_sum) / n, "recon": recon_sum / n,
                    "kl": kl_sum / n, "beta": self.beta_at(step - 1), "lr": self.lr_at(step - 1),
                    "epoch_loss": part["loss_sum"] / part["n"],   # running mean over this epoch so far
                    "samples_per_s": part["n"] / seconds if seconds > 0 else float("nan")})

    def _diverged(self, what: str) -> None:
        kept = what_was_kept(self.checkpoint_path, self._saved_at, self.out_dir)
        raise TrainingDiverged(f"{what}; {kept}. Try a smaller learning rate (now {self.config.lr:g}).")

    def _end_epoch(self) -> None:
        part = self._partial
        weights_ok = torch.stack([torch.isfinite(p).all() for p in self.model.parameters()]).all()
        if not bool(weights_ok):
            self._diverged(f"the weights became non-finite at step {self.step} (epoch {self.epoch + 1})")
        test = self.evaluate()
        n, seconds = max(part["n"], 1), part["seconds"]
        self.epoch += 1
        record = {
            "epoch": self.epoch, "step": self.step,
            "train_loss": part["loss_sum"] / n, "test_loss": test["loss"],
            "recon": part["recon_sum"] / n, "kl": part["kl_sum"] / n,
            "test_recon": test["recon"], "test_kl": test["kl"],
            "beta": self.beta_at(self.step - 1), "seconds": seconds,
            "samples_per_s": part["n"] / seconds if seconds > 0 else float("nan"),
            "lr": self.lr_at(max(self.step - 1, 0)),   # the epoch's last step
        }
        if self._objective:
            record.update(train_iwae_loss=part["iwae_sum"] / n, test_iwae_loss=test["iwae_loss"], k=self.config.k)
        record.update(self.terms.record(part, n))
        self.history.append(record)
        self.batch = 0
        self._partial = _empty_partial()
        self._save("finished" if self.epoch >= self.config.epochs else "running")
        self._fire("on_epoch_end", record)

