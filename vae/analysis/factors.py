"""A model's disentanglement metrics on a data set with ground-truth factors (see disentanglement.py).

    from vae.analysis.factors import evaluate_factors
    scores = evaluate_factors(model, load_dataset("shapes"))   # JSON-ready dict

Where the data are generated (shapes), the points are drawn fresh from the generator, as
disentanglement_lib samples from its ground-truth data sets: `n_points` images for the MI matrix,
MIG, DCI and SAP (two thirds to train the DCI / SAP predictors, one third to test them) and the
FactorVAE score's batches with one factor held fixed. Other data with factors use the given split,
and the FactorVAE score, which needs images with chosen factor values, is left out (None).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from vae.analysis.disentanglement import FactorError, dci, factorvae_score, mig, sap
from vae.analysis.latent import encode_dataset

N_POINTS = 6000                 # images for MI / MIG / DCI / SAP (2/3 train the predictors, 1/3 test them)
FACTORVAE_VOTES = (500, 300)    # (train, eval) votes of the FactorVAE score, 64 images each
DCI_TREES = 100                 # gradient-boosted trees per factor for DCI: disentanglement_lib's published protocol
DCI_TREES_QUICK = 30            # the quick estimate's (disentanglement, completeness 0.06-0.12 higher on the same codes)

METRIC_KEYS = ("mig", "dci_disentanglement", "dci_completeness", "dci_informativeness", "sap", "factorvae_score")

# one line each, for the CLI's table and the app
METRIC_MEANINGS = {
    "mig": "mutual information gap: per factor, how much more the best dimension knows about it than the "
           "runner-up, as a fraction of the factor's entropy (1: each factor in exactly one dimension)",
    "dci_disentanglement": "DCI disentanglement: how much each dimension is devoted to a single factor, by the "
                           "importance a tree ensemble gives it (1: every dimension predicts one factor only)",
    "dci_completeness": "DCI completeness: how much each factor is captured by a single dimension "
                        "(1: every factor is predicted from one dimension only)",
    "dci_informativeness": "DCI informativeness: test accuracy of predicting each (binned) factor from all "
                           "dimensions (1: the code determines the factors)",
    "sap": "SAP: per factor, the gap in test accuracy between the best and second-best single dimension "
           "at predicting it with a linear classifier",
    "factorvae_score": "FactorVAE score: accuracy of telling which factor was held fixed in a batch from the "
                       "dimension whose variance drops most (1: every factor has its own dimension)",
}


@dataclass(frozen=True)
class FactorGenerator:
    """Images with chosen factor values: sample(n, rng) -> factors (n, F); render(factors) -> uint8 (n, C, H, W)."""

    factor_names: tuple[str, ...]
    sample: Callable[[int, np.random.Generator], np.ndarray]
    render: Callable[[np.ndarray], np.ndarray]


def factor_generator(dataset) -> FactorGenerator | None:
    """The generator behind a data set, where there is one (shapes), else None."""
    if getattr(dataset, "name", None) != "shapes":
        return None
    from vae.data.shapes import SHAPE_FACTOR_NAMES, render_shapes, sample_shape_factors

    size = int(dataset.image_shape[-1])
    return FactorGenerator(tuple(SHAPE_FACTOR_NAMES), sample_shape_factors, lambda f: render_shapes(f, size))


def has_factors(dataset) -> bool:
    return getattr(dataset.test, "factors", None) is not None and bool(getattr(dataset, "factor_names", None))


def _encode(model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return encode_dataset(model, images, batch_size=1024)


def evaluate_factors(model, dataset, *, split: str = "test", n_points: int | None = None, seed: int = 0,
                     dci_method: str = "gbt", dci_trees: int = DCI_TREES,
                     factorvae_votes: tuple[int, int] | None = None, progress: Callable[[float, str], None] | None = None) -> dict:
    """Every metric of disentanglement.py for `model` on `dataset`; a JSON-ready dict.

    Keys: the METRIC_KEYS (floats in [0, 1]; factorvae_score None without a generator), "mi_matrix"
    (D x F, nats), "mi_normalized" (D x F, I / H(factor)), "factor_names", "factor_entropy" (nats),
    "mig_per_factor", "dci_importance" (D x F), "sap_matrix" (D x F), "factorvae_votes" (D x F),
    "factor_dims" (per factor, the dimension with the largest MI), "dim_kl" (D, mean KL of each dimension
    over the points, nats), "factor_protocol" (how the points were drawn and scored).
    `dci_trees`: trees per factor of the "gbt" DCI (100, disentanglement_lib's protocol; DCI_TREES_QUICK for
    the quick estimate). progress(fraction 0..1, what) as the work goes on. Raises FactorError when the data
    have no factors.
    """
    if not has_factors(dataset):
        raise FactorError(f"data set {getattr(dataset, 'name', '?')} has no ground-truth factors, so there is "
                          "nothing to measure disentanglement against (e.g. shapes has them; digits and MNIST do not)")
    say = progress or (lambda fraction, what: None)
    n_points = N_POINTS if n_points is None else int(n_points)
    factorvae_votes = FACTORVAE_VOTES if factorvae_votes is None else tuple(factorvae_votes)
    was_training = model.training
    model.eval()
    try:
        gen = factor_generator(dataset)
        rng = np.random.default_rng(seed)
        if gen is not None:
            say(0.0, f"drawing {n_points} images from the generator")
            factors = gen.sample(n_points, rng).astype(np.float64)
            images = gen.render(factors)
            source = "generated"
        else:
            part = getattr(dataset, split)
            take = rng.permutation(len(part.images))[:n_points]
            images, factors = part.images[take], part.factors[take].numpy().astype(np.float64)
            source = f"{split} split"
        names = list(gen.factor_names if gen is not None else dataset.factor_names)
        say(0.1, "encoding")
        mu, logvar = _encode(model, images)
        mu64 = mu.astype(np.float64)
        dim_kl = (0.5 * (mu64 ** 2 + np.exp(logvar) - 1.0 - logvar)).mean(axis=0)
        n_train = (2 * len(mu64)) // 3
        say(0.15, "MI matrix and MIG")
        out_mig = mig(mu64, factors)
        say(0.2, f"DCI ({dci_method})")
        out_dci = dci(mu64[:n_train], factors[:n_train], mu64[n_train:], factors[n_train:], method=dci_method,
                      n_estimators=int(dci_trees), seed=seed)
        say(0.45, "SAP")
        out_sap = sap(mu64[:n_train], factors[:n_train], mu64[n_train:], factors[n_train:])
        out_fv: dict = {"factorvae_score": None, "factorvae_votes": None}
        if gen is not None:
            def represent(f: np.ndarray) -> np.ndarray:
                return _encode(model, gen.render(f))[0]

            n_tr, n_ev = factorvae_votes
            out_fv = factorvae_score(represent, gen.sample, n_train_votes=n_tr, n_eval_votes=n_ev, seed=seed,
                                     progress=lambda done, total: say(0.55 + 0.45 * done / total,
                                                                      f"FactorVAE score: vote {done} of {total}"))
        say(1.0, "done")
    finally:
        model.train(was_training)
    h = out_mig["factor_entropy"]
    mi = out_mig["mi_matrix"]
    result = {
        "mig": out_mig["mig"], "dci_disentanglement": out_dci["dci_disentanglement"],
        "dci_completeness": out_dci["dci_completeness"], "dci_informativeness": out_dci["dci_informativeness"],
        "sap": out_sap["sap"], "factorvae_score": out_fv["factorvae_score"],
        "factor_names": names, "mi_matrix": mi.tolist(),
        "mi_normalized": (mi / np.where(h > 0, h, 1.0)[None, :]).tolist(),
        "factor_entropy": h.tolist(), "mig_per_factor": out_mig["mig_per_factor"].tolist(),
        "dci_importance": out_dci["dci_importance"].tolist(),
        "dci_informativeness_train": out_dci["dci_informativeness_train"],
        "sap_matrix": out_sap["sap_matrix"].tolist(),
        "factorvae_votes": None if out_fv["factorvae_votes"] is None else np.asarray(out_fv["factorvae_votes"]).tolist(),
        "factor_dims": [int(i) for i in mi.argmax(axis=0)],
        "dim_kl": dim_kl.tolist(),
        "factor_protocol": {
            "source": source, "n_points": int(len(mu64)), "n_train": int(n_train), "n_test": int(len(mu64) - n_train),
            "num_bins": 20, "dci_method": dci_method,
            "dci_trees": int(dci_trees) if dci_method == "gbt" else None, "seed": seed, "codes": "encoder means",
            "factorvae_votes": list(factorvae_votes) if gen is not None else None, "factorvae_batch": 64},
    }
    return result


def as_torch_free(result: dict) -> dict:
    """The result with every numpy scalar turned into a Python number (json.dumps-able)."""
    def conv(v):
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, (np.floating, np.integer)):
            return v.item()
        if isinstance(v, torch.Tensor):
            return v.tolist()
        return v
    return conv(result)


USAGE = ("vae.analysis.factors is a library module; the factor metrics of a checkpoint are printed by\n"
         "    python -m vae evaluate RUN --factors [--json]\n"
         "and the per-dimension table by\n"
         "    python -m vae.analysis.factor_table RUN")


def main(argv: list[str] | None = None) -> int:
    """`python -m vae.analysis.factors ...` printed nothing; it says which commands print the factor metrics
    (the command line lives a floor above this module, which does not import it). Exit status 2."""
    import sys

    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
