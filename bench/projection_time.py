"""How long a latent map takes, and how good it is: PCA, scikit-learn t-SNE, openTSNE, our project_tsne, UMAP.

    python bench/projection_time.py              # 10,000 MNIST test images -> 20-d latent means
    python bench/projection_time.py --quick      # 2,000 points, for a smoke run
    python bench/projection_time.py --model assets/mnist-20d --with-3d

The latents are the means of q(z|x) of a VAE on MNIST: the first MNIST model found under assets/
or runs/ (or --model), else a 784-400-20 MLP VAE trained here for --epochs epochs (about a minute).
Each method is timed once in this process; "vs sklearn" is its time over scikit-learn TSNE's with
default settings (the baseline), so <1 is faster. UMAP (umap-learn via project_umap, seeded, so one
thread) is timed after an untimed warm-up on 500 points, which pays numba's one-off compilation. Quality: leave-one-out kNN (k=10) label accuracy
in the map, and trustworthiness (k=10) on a fixed random subsample of --tw-sample points.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vae import VAE, ModelConfig, load_model, pick_device  # noqa: E402
from vae.data import load_dataset  # noqa: E402
from vae.analysis.latent import encode_dataset  # noqa: E402
from vae.analysis.projection import _usable_cpus, knn_label_accuracy, project_pca, project_tsne  # noqa: E402


def find_mnist_model(device):
    """The first checkpoint under assets/ or runs/ that is a 1x28x28 model trained on MNIST, or None."""
    for root in (REPO / "assets", REPO / "runs"):
        if not root.is_dir():
            continue
        for cfg in sorted(root.rglob("config.json")):
            try:
                model = load_model(cfg.parent, device=device)
            except Exception:
                continue
            ds = (getattr(model, "checkpoint_info", None) or {}).get("dataset") or {}
            name = ds.get("name") if isinstance(ds, dict) else ds
            if model.config.image_shape == (1, 28, 28) and name == "mnist":
                return model, str(cfg.parent.relative_to(REPO))
    return None


def train_quick_vae(images: torch.Tensor, epochs: int, device, seed: int = 0) -> VAE:
    """A 784-400-20 MLP VAE trained for a few epochs on uint8 images (N, 1, 28, 28), plain Adam loop."""
    torch.manual_seed(seed)
    model = VAE(ModelConfig(latent_dim=20, hidden=(400,))).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x_all = images.to(device)
    g = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        perm = torch.randperm(len(x_all), generator=g)
        total = 0.0
        for i in range(0, len(perm), 128):
            x = x_all[perm[i:i + 128].to(device)].float() / 255
            out = model(x)
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            opt.step()
            total += out.loss.item() * len(x)
        print(f"  epoch {epoch + 1}: -ELBO {total / len(perm):.1f} nats/image", flush=True)
    return model.eval()


def trust(x, e, sub) -> float:
    from sklearn.manifold import trustworthiness
    return float(trustworthiness(x[sub], e[sub], n_neighbors=10))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=None, help="points to project (default 10000, 2000 with --quick)")
    ap.add_argument("--quick", action="store_true", help="2,000 points and a 1-epoch model")
    ap.add_argument("--data-dir", default=str(REPO.parent / "shared" / "datasets" / "mnist"))
    ap.add_argument("--model", default=None, help="checkpoint folder/zip of an MNIST VAE (default: search assets/, runs/)")
    ap.add_argument("--epochs", type=int, default=None, help="epochs for the stand-in VAE (default 2, 1 with --quick)")
    ap.add_argument("--n-jobs", type=int, default=None, help="threads for openTSNE and ours (default: all cores)")
    ap.add_argument("--tw-sample", type=int, default=2000, help="points in the trustworthiness subsample")
    ap.add_argument("--skip", default="", help="comma-separated rows to skip: sklearn,opentsne,umap")
    ap.add_argument("--with-3d", action="store_true", help="also time project_tsne(n_components=3) (Barnes-Hut)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    n = args.n or (2000 if args.quick else 10000)
    epochs = args.epochs or (1 if args.quick else 2)
    threads = args.n_jobs or _usable_cpus()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    device = pick_device("auto")

    ds = load_dataset("mnist", data_dir=args.data_dir)
    found = (load_model(args.model, device=device), args.model) if args.model else find_mnist_model(device)
    if found:
        model, where = found
        print(f"model: {where} (latent_dim {model.config.latent_dim})")
    else:
        print(f"model: none under assets/ or runs/; training a 784-400-20 MLP VAE for {epochs} epoch(s) on {device}")
        t0 = time.perf_counter()
        model = train_quick_vae(ds.train.images, epochs, device, seed=args.seed)
        where = f"trained here, {epochs} epoch(s), {time.perf_counter() - t0:.0f} s"
    images, labels = ds.test.images[:n], ds.test.labels[:n].numpy()
    t0 = time.perf_counter()
    mu, _ = encode_dataset(model, images)
    print(f"encode_dataset: {len(mu)} x {mu.shape[1]} in {time.perf_counter() - t0:.2f} s; "
          f"threads {threads}, torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    sub = np.random.default_rng(args.seed).choice(len(mu), min(args.tw_sample, len(mu)), replace=False)

    rows = []  # (name, seconds, embedding)

    def run(name, fn):
        print(f"running {name} ...", flush=True)
        t = time.perf_counter()
        e = np.asarray(fn(), dtype=np.float32)
        rows.append((name, time.perf_counter() - t, e))

    run("PCA (project_pca)", lambda: project_pca(mu).embedding)
    if "sklearn" not in skip:
        from sklearn.manifold import TSNE
        run("sklearn TSNE defaults [baseline]", lambda: TSNE(n_components=2, random_state=args.seed).fit_transform(mu))
    if "opentsne" not in skip:
        from openTSNE import TSNE as OpenTSNE
        run(f"openTSNE defaults (n_jobs={threads})",
            lambda: OpenTSNE(n_components=2, random_state=args.seed, n_jobs=threads).fit(mu))
    run("project_tsne 2-D (ours)", lambda: project_tsne(mu, seed=args.seed, n_jobs=threads).embedding)
    if args.with_3d:
        run("project_tsne 3-D (ours, BH)", lambda: project_tsne(mu, 3, seed=args.seed, n_jobs=threads).embedding)
    if "umap" not in skip:
        from vae.analysis.umap_projection import project_umap
        t = time.perf_counter()
        project_umap(mu[:500], seed=args.seed)
        print(f"  UMAP warm-up (numba compilation) on 500 points: {time.perf_counter() - t:.1f} s", flush=True)
        run("project_umap 2-D (umap-learn, seeded)", lambda: project_umap(mu, seed=args.seed).embedding)
        if args.with_3d:
            run("project_umap 3-D (umap-learn, seeded)", lambda: project_umap(mu, 3, seed=args.seed).embedding)

    base = next((s for name, s, _ in rows if "[baseline]" in name), None)
    print(f"\nMNIST test, {len(mu)} points x {mu.shape[1]}-d latent means ({where}); "
          f"latent-space kNN accuracy {knn_label_accuracy(mu, labels):.3f}, trustworthiness on {len(sub)} points")
    print(f"{'method':40s} {'seconds':>8s} {'vs sklearn':>10s} {'kNN acc':>8s} {'trust':>7s}")
    for name, s, e in rows:
        ratio = f"{s / base:10.3f}" if base else f"{'-':>10s}"
        print(f"{name:40s} {s:8.2f} {ratio} {knn_label_accuracy(e, labels):8.3f} {trust(mu, e, sub):7.3f}")


if __name__ == "__main__":
    main()
