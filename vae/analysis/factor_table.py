"""Which latent dimension carries which ground-truth factor: a mutual-information table.

For data with known factors of variation (the shapes data: shape, scale, rotation, x, y), each latent
dimension's posterior mean is binned, and the mutual information between that binned mean and each
(binned) factor is divided by the factor's entropy: 0 means the dimension says nothing about the
factor, 1 that it determines it. A disentangled model has one large entry per active row, in
different columns. (The estimator of Chen et al. 2018's MIG and Locatello et al. 2019, with
equal-mass bins.)

    table = factor_information(mu, factor_targets(dataset.test.factors, dataset.factor_names))
    table.main_factor(d)                      # the factor dimension d carries most about
    table, kl = model_factor_table(model, dataset)   # the same from a model and a data set with factors

    python -m vae.analysis.factor_table assets/shapes-beta   # the table of a checkpoint on its test split, Markdown
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vae.dims import dim_label

__all__ = ["FactorTable", "factor_information", "factor_targets", "model_factor_table", "ROTATION_PERIODS"]

# rotation ranges of the shapes data (square, ellipse, heart), radians: see vae.data.shapes
ROTATION_PERIODS = (math.pi / 2, math.pi, 2 * math.pi)


@dataclass
class FactorTable:
    """Normalised mutual information between latent means and factors."""

    nmi: np.ndarray           # (D, F) I(binned mu_d; factor_f) / H(factor_f), in [0, 1]
    factor_names: list[str]   # (F,)

    def main_factor(self, d: int) -> str:
        """The factor dimension ``d`` informs most about."""
        return self.factor_names[int(np.argmax(self.nmi[d]))]

    def purity(self, d: int) -> float:
        """How much of dimension ``d``'s information is about its main factor: top / sum of its row (1 = one factor)."""
        row = self.nmi[d]
        total = float(row.sum())
        return float(row.max() / total) if total > 0 else 0.0

    def markdown(self, dims: list[int] | None = None, kl: np.ndarray | None = None) -> str:
        """The table as Markdown, one row per dimension (``dims``; default all), with its KL when given."""
        dims = list(range(self.nmi.shape[0])) if dims is None else dims
        head = "| dim | " + ("KL (nats) | " if kl is not None else "") + " | ".join(self.factor_names) + " | main factor |"
        rule = "|" + "---|" * (len(self.factor_names) + 2 + (kl is not None))
        rows = []
        for d in dims:
            cells = [f"**{v:.2f}**" if j == int(np.argmax(self.nmi[d])) else f"{v:.2f}" for j, v in enumerate(self.nmi[d])]
            rows.append(f"| {dim_label(d)} | " + (f"{kl[d]:.2f} | " if kl is not None else "") + " | ".join(cells)
                        + f" | {self.main_factor(d)} |")
        return "\n".join([head, rule, *rows])


def factor_targets(factors: np.ndarray, factor_names: list[str]) -> np.ndarray:
    """The shapes data's factors as they should be measured: (N, F) float.

    A rotation is only defined up to its shape's symmetry (a square at 0 and at pi/2 is the same
    image), so the "rotation" column becomes the phase rotation / period in [0, 1); the other columns
    are returned as they are.
    """
    out = np.array(factors, dtype=np.float64, copy=True)
    if "rotation" in factor_names and "shape" in factor_names:
        r, s = factor_names.index("rotation"), factor_names.index("shape")
        periods = np.asarray(ROTATION_PERIODS)[out[:, s].astype(int)]
        out[:, r] = np.mod(out[:, r], periods) / periods
    return out


def factor_information(codes: np.ndarray, factors: np.ndarray, factor_names: list[str] | None = None,
                       n_bins: int = 20) -> FactorTable:
    """Normalised mutual information of every (latent dimension, factor) pair.

    codes (N, D) latent means; factors (N, F). A column with at most ``n_bins`` distinct values is
    taken as discrete (shape, scale); others are cut into ``n_bins`` equal-mass bins, as are the codes.
    Returns a FactorTable with nmi (D, F) = I(code_d; factor_f) / H(factor_f) in nats / nats.
    """
    codes, factors = np.asarray(codes, dtype=np.float64), np.asarray(factors, dtype=np.float64)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise ValueError(f"codes (N, D) and factors (N, F) must have the same N, got {codes.shape} and {factors.shape}")
    names = list(factor_names) if factor_names is not None else [f"factor {j}" for j in range(factors.shape[1])]
    code_bins = [_bin(codes[:, d], n_bins) for d in range(codes.shape[1])]
    factor_bins = [_bin(factors[:, j], n_bins) for j in range(factors.shape[1])]
    nmi = np.zeros((codes.shape[1], factors.shape[1]))
    for j, fb in enumerate(factor_bins):
        h = _entropy(fb)
        if h <= 0:
            continue
        for d, cb in enumerate(code_bins):
            nmi[d, j] = _mutual_information(cb, fb) / h
    return FactorTable(nmi=np.clip(nmi, 0.0, 1.0), factor_names=names)


def _bin(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Integer bin of each value: its distinct values when there are few, else equal-mass quantile bins."""
    distinct = np.unique(values)
    if len(distinct) <= n_bins:
        return np.searchsorted(distinct, values)
    edges = np.quantile(values, np.linspace(0, 1, n_bins + 1)[1:-1])
    return np.searchsorted(edges, values, side="right")


def _entropy(labels: np.ndarray) -> float:
    p = np.bincount(labels) / len(labels)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def _mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1.0)
    joint /= joint.sum()
    pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])).sum())


def model_factor_table(model, dataset, split: str = "test", n_bins: int = 20) -> tuple[FactorTable, np.ndarray]:
    """The FactorTable of ``model``'s posterior means on ``dataset``'s ``split`` (which must have factors),
    and the mean KL(q(z_d|x) || N(0, 1)) of each dimension, (D,) nats."""
    import torch

    from vae.analysis.latent import encode_dataset
    from vae.analysis.likelihood import kl_per_dimension

    s = getattr(dataset, split)
    if s.factors is None:
        raise ValueError(f"{dataset.name} has no ground-truth factors")
    mu, logvar = encode_dataset(model, s.images)
    mu, logvar = torch.as_tensor(mu).cpu(), torch.as_tensor(logvar).cpu()
    kl = np.asarray(kl_per_dimension(mu, logvar), dtype=np.float64)
    targets = factor_targets(s.factors.numpy(), list(dataset.factor_names))
    return factor_information(mu.numpy(), targets, list(dataset.factor_names), n_bins=n_bins), kl


def main(argv: list[str] | None = None) -> int:
    """python -m vae.analysis.factor_table RUN [--min-kl 0.1]: the factor table of a checkpoint on its test split."""
    import argparse

    from vae.checkpoint import load_model
    from vae.data import load_dataset

    parser = argparse.ArgumentParser(prog="python -m vae.analysis.factor_table", description=main.__doc__)
    parser.add_argument("run", help="checkpoint folder trained on data with factors (shapes)")
    parser.add_argument("--min-kl", type=float, default=0.1, help="dimensions with less KL (nats) are inactive, left out")
    args = parser.parse_args(argv)
    model = load_model(args.run, device="cpu")
    record = model.checkpoint_info.get("dataset") or {}
    options = {k: v for k, v in (record.get("kwargs") or {}).items() if k != "data_dir" and v is not None}
    dataset = load_dataset(record.get("name", "shapes"), **options)
    table, kl = model_factor_table(model, dataset)
    active = [int(d) for d in np.argsort(-kl) if kl[d] >= args.min_kl]
    print(table.markdown(active, kl))
    print(f"\n{len(active)} active of {len(kl)}; purity (top / row sum): "
          + ", ".join(f"{dim_label(d)} {table.purity(d):.2f}" for d in active))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
