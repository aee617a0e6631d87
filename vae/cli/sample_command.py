"""`python -m vae sample`: its options, and prior samples decoded into a PNG grid."""

from __future__ import annotations

import io
import math
from pathlib import Path

from .common import CLIError, add_outside_flags, add_threads_flag, apply_threads, load_model_arg


def add_sample_parser(sub) -> None:
    """Register `sample` on the subparsers `sub` of `python -m vae`."""
    s = sub.add_parser(
        "sample", help="decode prior samples z ~ N(0, T^2 I) into a PNG grid",
        description="Decode n points drawn from the prior N(0, temperature^2 I) and save the mean images "
                    "as a PNG grid.")
    s.add_argument("run", metavar="RUN", help="checkpoint folder or .zip, or an outside model: path/to/file.py:function")
    add_outside_flags(s)
    s.add_argument("--n", type=int, default=64, help="number of images (default: 64)")
    s.add_argument("--out", default="samples.png", metavar="PNG", help="image file to write (default: samples.png)")
    s.add_argument("--temperature", type=float, default=1.0,
                   help="std of the prior draws; <1 gives cleaner, less varied images (default: 1.0)")
    s.add_argument("--seed", type=int, default=0, help="seed of the draws (default: 0)")
    s.add_argument("--scale", type=int, default=None, metavar="K",
                   help="enlarge each image K times (nearest neighbour) (default: to at least 28 pixels)")
    s.add_argument("--device", default=None, help="auto, cpu, cuda, mps (default: auto)")
    add_threads_flag(s)


def image_grid(images, ncols: int | None = None, pad: int = 2, scale: int = 1):
    """uint8 numpy (n, C, H, W) -> a PIL image of the n images on a grid with `pad` px gaps."""
    import numpy as np
    from PIL import Image

    n, c, h, w = images.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    if scale > 1:
        images = images.repeat(scale, axis=2).repeat(scale, axis=3)
        h, w = h * scale, w * scale
    grid = np.full((c, nrows * (h + pad) + pad, ncols * (w + pad) + pad), 128, dtype=np.uint8)
    for i in range(n):
        r, q = divmod(i, ncols)
        grid[:, pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = images[i]
    return Image.fromarray(grid[0] if c == 1 else grid.transpose(1, 2, 0))


def cmd_sample(args) -> int:
    import torch

    from ..safeio.durable import atomic_write_bytes
    from ..device import pick_device

    if not 1 <= args.n <= 4096:
        raise CLIError(f"--n must be 1..4096, got {args.n}")
    if not args.temperature > 0:
        raise CLIError(f"--temperature must be positive, got {args.temperature}")
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise CLIError(f"--out must name a .png file, got {args.out}")
    apply_threads(args)
    device = pick_device(args.device or "auto")
    model = load_model_arg(args, device)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    x = model.sample(args.n, temperature=args.temperature, generator=gen)   # (n, C, H, W), in [0, 1] once clamped
    images = (x.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    scale = args.scale or max(1, math.ceil(28 / model.config.image_size))
    buf = io.BytesIO()
    image_grid(images, scale=scale).save(buf, format="PNG")
    atomic_write_bytes(out, buf.getvalue())
    print(f"wrote {args.n} samples (temperature {args.temperature:g}) to {out}")
    return 0
