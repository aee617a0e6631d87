"""This browser's training runs: each ended run kept as a small record, listed and overlaid on the Train page.

A new Start replaces the browser's job (vae.ui.training.jobs); the run it replaces is kept here as a
`RunRecord`: its settings in one line, its outcome (state, error, epochs, final test loss) and its loss
curves thinned to at most `CURVE_POINTS` points, never its weights or data. At most `MAX_RUNS` runs are
listed per browser, the current one included; the janitor forgets them with the browser's job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_RUNS = 8            # runs listed per browser, the current one included (MAX_RUNS - 1 kept records)
CURVE_POINTS = 400      # points kept of a run's smoothed per-step train loss


@dataclass(frozen=True)
class RunRecord:
    """One training run of a browser, as listed and drawn: no weights, no data."""

    number: int                         # the browser's run counter: run 1, run 2, ...
    state: str                          # "pending" | "running" | "stopped" | "finished" | "failed"
    error: str | None                   # why it failed (one line), else None
    dataset: str                        # TrainConfig.dataset
    settings: str                       # model and objective in one line: "mlp 2-d · elbo β=1 · lr 0.001 · batch 128"
    epoch: int                          # epochs completed
    epochs: int                         # epochs asked for
    final_test_loss: float | None       # -ELBO on the test split after the last epoch, nats per image
    train_x: tuple[float, ...]          # x of the train curve, in epochs (step / steps per epoch)
    train_loss: tuple[float, ...]       # smoothed per-step train loss, nats per image
    test_x: tuple[float, ...]           # epoch numbers (1-based) of the test losses
    test_loss: tuple[float, ...]        # -ELBO on the test split at the end of each epoch, nats per image

    @property
    def label(self) -> str:
        return f"run {self.number}"

    @property
    def ended(self) -> bool:
        return self.state in ("stopped", "finished", "failed")


def settings_line(model_config: dict, train_config) -> str:
    """The settings that tell runs apart, in one line (model_config as a dict, train_config a TrainConfig)."""
    arch = model_config.get("arch", "mlp")
    widths = model_config.get("hidden") if arch == "mlp" else model_config.get("conv_channels")
    shape = f"{arch} {'-'.join(str(w) for w in widths or ())} → {model_config.get('latent_dim', '?')}-d"
    objective = getattr(train_config, "objective", "elbo")
    return (f"{shape} · {objective} β={train_config.beta:g} · lr {train_config.lr:g} ({train_config.lr_schedule})"
            f" · batch {train_config.batch_size}")


def _thin_smoothed(x: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A trailing mean of `y` over ~5% of the points, then at most `n` evenly spaced points of it (the last kept)."""
    from vae.ui.training.curves import smooth

    if not len(y):
        return x, y
    s = smooth(y)
    keep = np.unique(np.linspace(0, len(y) - 1, min(n, len(y))).round().astype(int))
    return x[keep], s[keep]


def record_of(snap, train_config, number: int) -> RunRecord:
    """The RunRecord of a job's snapshot `snap` (vae.train.JobSnapshot) started with `train_config` as run `number`."""
    steps = np.array([r["step"] for r in snap.step_history], dtype=np.float64)
    loss = np.array([r.get("loss", np.nan) for r in snap.step_history], dtype=np.float64)
    per_epoch = snap.total_steps / snap.epochs if snap.total_steps and snap.epochs else 0.0
    if not per_epoch and snap.epoch_history:          # a run that has not said its total: from its epochs
        last = snap.epoch_history[-1]
        per_epoch = last.get("step", 0) / max(1, last.get("epoch", 1))
    x, y = _thin_smoothed(steps / per_epoch if per_epoch else steps, loss, CURVE_POINTS)
    tests = [(float(r.get("epoch", i + 1)), r.get("test_loss")) for i, r in enumerate(snap.epoch_history)]
    tests = [(e, float(v)) for e, v in tests if v is not None and np.isfinite(v)]
    return RunRecord(number=number, state=snap.state, error=snap.error, dataset=train_config.dataset,
                     settings=settings_line(snap.model_config, train_config), epoch=snap.epoch, epochs=snap.epochs,
                     final_test_loss=tests[-1][1] if tests else None,
                     train_x=tuple(float(v) for v in x), train_loss=tuple(float(v) for v in y),
                     test_x=tuple(e for e, _ in tests), test_loss=tuple(v for _, v in tests))


def keep_record(records: list[RunRecord], record: RunRecord, limit: int = MAX_RUNS - 1) -> list[RunRecord]:
    """`records` (oldest first) with `record` added and the oldest dropped beyond `limit`."""
    return [*records, record][-limit:] if limit > 0 else []


def _final_loss_text(r: RunRecord) -> str:
    """The table's loss cell: the figure, else why there is none (a missing value would read "None")."""
    if r.final_test_loss is not None:
        return f"{r.final_test_loss:,.2f}"
    return "running…" if r.state in ("pending", "running") else "— (no test epoch)"


def table_rows(records: list[RunRecord]) -> list[dict]:
    """One row per run, newest first: what the Train page's run list shows."""
    return [{"run": r.label, "status": r.state, "dataset": r.dataset, "settings": r.settings,
             "epochs": f"{r.epoch}/{r.epochs}",
             "final test −ELBO (nats)": _final_loss_text(r),
             "error": r.error or ""} for r in sorted(records, key=lambda r: -r.number)]
