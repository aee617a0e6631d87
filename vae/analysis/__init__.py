"""What is computed from a trained model.

    latent.py       encode_dataset, interpolation (lerp, slerp), traversals, manifold grids, prior samples
    projection.py   PCA and t-SNE of latent means, kNN label accuracy
    likelihood.py   ELBO terms, IWAE estimates of log p(x), active units, evaluate_model, gap_by_k
    posterior.py    the true posterior p(z|x) of a 2-d model on a grid, beside q(z|x)
"""
