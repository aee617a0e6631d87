"""What is computed from a trained model.

    latent.py       encode_dataset, interpolation (lerp, slerp), traversals, manifold grids, prior samples
    projection.py   PCA and t-SNE of latent means, kNN label accuracy
    likelihood.py   ELBO terms, IWAE estimates of log p(x), active units, evaluate_model, gap_by_k
                    (the bounds of a batch in likelihood_bounds.py, their shared parts in likelihood_helpers.py)
    posterior.py    the true posterior p(z|x) of a 2-d model on a grid, beside q(z|x)
    disentanglement.py  MI matrix, MIG, DCI, SAP, FactorVAE score on codes against ground-truth factors
    factors.py      a model's disentanglement metrics on data with factors (shapes: drawn from the generator)
    compare.py      per-model summaries for side-by-side comparisons, sweep summaries read back
"""
