"""The figures a gallery entry shows: test ELBO and IWAE log p(x), nats per image, on a capped test subset.

Measured once, when a model is published, with the same settings for every entry (the first `n` test
images, `k` importance samples, seed 0; the binarisation the model was trained with), so a leaderboard
compares like with like. On the full MNIST test set with K = 5000 these differ from `python -m vae
evaluate` by the subset's sampling error (shown as n and k beside each figure).
"""

from __future__ import annotations

from typing import Any

N_TEST = 1000       # test images scored
K = 100             # importance samples of the IWAE estimate


def architecture(model) -> str:
    """A one-line description: 'mlp 400-200, 2-d latent, bernoulli'."""
    c = model.config
    hidden = "-".join(str(h) for h in (getattr(c, "hidden", None) or getattr(c, "hidden_dims", None) or ()))
    parts = [f"{c.arch} {hidden}".strip(), f"{c.latent_dim}-d latent"]
    lik = getattr(c, "likelihood", None)
    if lik:
        parts.append(str(lik))
    return ", ".join(parts)


def dataset_name(model) -> str | None:
    """The data set a checkpoint says it was trained on (None when it does not say)."""
    info = getattr(model, "checkpoint_info", None) or {}
    record = info.get("dataset") or {}
    train = info.get("train") or {}
    return record.get("name") or train.get("dataset")


def measure(model, dataset, n: int = N_TEST, k: int = K, progress=None) -> dict[str, Any]:
    """{elbo, iwae, iwae_k, n_test} of `model` on the first `n` test images of `dataset` (nats per image)."""
    from vae.analysis.likelihood import evaluate_model

    info = getattr(model, "checkpoint_info", None) or {}
    binarize = "static" if ((info.get("train") or {}).get("binarize") or "none") != "none" else "none"
    images = dataset.test.images[:n]
    r = evaluate_model(model, images, iwae_samples=k, binarize=binarize, seed=0, progress=progress)
    return {"elbo": r["elbo"], "iwae": r["iwae"], "iwae_k": k, "n_test": int(images.shape[0])}
