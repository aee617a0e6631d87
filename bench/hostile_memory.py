"""Peak memory of hostile inputs: each case loaded in a subprocess with a capped address space,
in this checkout and, optionally, in a baseline checkout (e.g. the code before the fix).

    python bench/hostile_memory.py                              # this checkout only
    git archive 09dab01 | tar -x -C /tmp/before                 # a baseline checkout
    python bench/hostile_memory.py --baseline /tmp/before       # both, side by side

Prints a table: case, then per checkout the outcome (the exception's class and the start of its
message, or "ok") and the growth of the peak RSS (ru_maxrss) while the case ran. A case that would
take GBs dies at the cap (--cap-mb, default 1500) with MemoryError instead of taking the machine.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hostile import REPO, bzip2_zeros, deflate_zeros, raw_zip, run_capped  # noqa: E402

SMALL = {"image_size": 8, "latent_dim": 2, "hidden": [16]}


def _png(a: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def _member(name: str, data: bytes) -> tuple:
    return (name, zlib.compress(data)[2:-4], 8, len(data), zlib.crc32(data))


def build_cases(d: Path) -> list[tuple[str, str, str]]:
    """(case, setup, code) triples; inputs are written under d."""
    import torch
    from safetensors.torch import save as st_save

    import vae
    from vae.model import VAE

    torch.manual_seed(0)
    run = vae.save_model(VAE(vae.ModelConfig(**SMALL)), d / "run")
    files = {f.name: f.read_bytes() for f in run.iterdir()}
    cfg = files["config.json"]
    load_zip = ("import torch\nfrom pathlib import Path\nfrom vae import checkpoint as ck\n",
                "ck.load_checkpoint_files(ck.read_checkpoint_zip(Path({p!r}).read_bytes(), 'up.zip'), 'up.zip')")
    upload = ("from pathlib import Path\nfrom vae.ui.posterior import image_from_bytes\n",
              "image_from_bytes(Path({p!r}).read_bytes(), 'up.png', (1, 28, 28))")
    folder = ("from pathlib import Path\nfrom vae.data import load_image_folder\n",
              "load_image_folder(Path({p!r}), image_size=8)")
    cases = []

    def add(name, kind, path, data):
        path.write_bytes(data)
        setup, code = kind
        cases.append((f"{name} ({len(data):,} B)", setup, code.format(p=str(path))))

    add("ckpt zip, bzip2 weights 600 MB declaring 1 KB", load_zip, d / "bz.zip",
        raw_zip([_member("config.json", cfg), ("model.safetensors", bzip2_zeros(600 << 20), 12, 1000, 0)]))
    add("ckpt zip, deflate weights 600 MB declaring 1 KB", load_zip, d / "dl.zip",
        raw_zip([_member("config.json", cfg), ("model.safetensors", deflate_zeros(600 << 20), 8, 1000, 0)]))
    big_cfg = json.dumps({"format_version": 1, "model": {**SMALL, "image_size": 64, "channels": 3,
                                                         "hidden": [2048, 2048]}}).encode()
    add("ckpt zip, config of 58.7 M params, tiny weights", load_zip, d / "big.zip",
        raw_zip([_member("config.json", big_cfg),
                 _member("model.safetensors", st_save({"encoder.net.0.weight": torch.zeros(1)}))]))
    huge_cfg = json.dumps({"format_version": 1, "model": {**SMALL, "image_size": 256, "channels": 3,
                                                          "hidden": [8192, 8192]}}).encode()
    add("ckpt zip, config of 3.4 G params", load_zip, d / "huge.zip",
        raw_zip([_member("config.json", huge_cfg), _member("model.safetensors", files["model.safetensors"])]))
    deep_cfg = json.dumps({"format_version": 1, "model": {**SMALL, "hidden": [1] * 5_000_000}}).encode()
    add("ckpt zip, 5 million one-unit layers", load_zip, d / "deep.zip",
        raw_zip([_member("config.json", deep_cfg), _member("model.safetensors", files["model.safetensors"])]))
    wide = np.zeros((1000, 40000), np.uint8)
    wide[400:600] = 255
    add("upload 40000x1000 PNG", upload, d / "wide.png", _png(wide))
    add("upload 4000000x10 PNG", upload, d / "line.png", _png(np.zeros((10, 4_000_000), np.uint8)))
    from PIL import Image
    im = Image.new("RGBA", (6000, 6000), (0, 0, 0, 0))
    im.paste((255, 255, 255, 255), (2000, 2000, 4000, 4000))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    del im
    add("upload 6000x6000 RGBA PNG", upload, d / "rgba.png", buf.getvalue())
    add("image zip, bzip2 member 600 MB declaring 1 KB", folder, d / "pics.zip",
        raw_zip([_member("a.png", _png(np.zeros((8, 8), np.uint8))),
                 ("b.png", bzip2_zeros(600 << 20), 12, 1000, 0)]))
    return cases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", type=Path, help="a checkout to compare with (its vae/ is imported)")
    ap.add_argument("--cap-mb", type=int, default=1500, help="address space allowed beyond the imports (MB)")
    args = ap.parse_args()
    roots = [("this checkout", REPO)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    with tempfile.TemporaryDirectory() as tmp:
        cases = build_cases(Path(tmp))
        rows = []
        for name, setup, code in cases:
            row = [name]
            for _, root in roots:
                r = run_capped(code, args.cap_mb, setup=setup, repo=root)
                what = "ok" if r["error"] is None else f"{r['error']}: {r['message'][:70]}"
                row += [what, f"{r['peak_growth_mb']:.0f}"]
            rows.append(row)
            print(" | ".join(row), flush=True)
    header = ["case"] + [h for label, _ in roots for h in (f"{label}: outcome", "peak RSS growth, MB")]
    print("\n| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
