"""Encoding a big set keeps no float copy of it and does not grow the process: 1,000,000 shapes once
grew the server by ~3.5 GB, because every batch's results were kept and concatenated while its float
input was freed (glibc could not reuse those holes). Measured in a fresh process (resident memory,
Linux), so the test's own allocations do not blur the number."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vae.analysis.latent import encode_dataset

ROOT = Path(__file__).resolve().parents[1]

_SCRIPT = r"""
import sys
sys.path.insert(0, sys.argv[1])
import torch
from vae.analysis.large_map import cached_encode
from vae.config import ModelConfig
from vae.model import VAE

def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

torch.manual_seed(0)
model = VAE(ModelConfig(arch="mlp", channels=1, image_size=32, latent_dim=8, hidden=[256, 128])).eval()
images = torch.randint(0, 256, (60_000, 1, 32, 32), dtype=torch.uint8)      # 60 MB; as float32 240 MB
cached_encode(model, images[:2048], batch_size=1024, use_cache=False)        # warm up the allocator
before = rss_mib()
mu, logvar, _ = cached_encode(model, images, batch_size=1024, use_cache=False)
print(rss_mib() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_encoding_60000_images_grows_the_process_by_far_less_than_their_float_copy():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    out = subprocess.run([sys.executable, "-c", _SCRIPT, str(ROOT)], capture_output=True, text=True,
                         env=env, timeout=600, check=True).stdout
    growth_mib = float(out.strip().splitlines()[-1])
    # results: 60,000 x 8 x 2 float32 = 3.7 MiB; the float images would be 234 MiB (before the fix: ~200)
    assert growth_mib < 40, f"encoding grew the process by {growth_mib:.0f} MiB"


def test_encode_dataset_converts_batch_by_batch_into_one_buffer():
    """The model sees float32 batches of at most batch_size, all in one reused buffer; progress per batch."""
    from vae.config import ModelConfig
    from vae.model import VAE

    model = VAE(ModelConfig(arch="mlp", channels=1, image_size=8, latent_dim=3, hidden=[16])).eval()
    seen, done = [], []
    encode = model.encode

    def spy(x):
        seen.append((x.dtype, x.shape[0], x.untyped_storage().data_ptr()))
        return encode(x)

    model.encode = spy
    images = torch.randint(0, 256, (25, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    mu, logvar = encode_dataset(model, images, batch_size=10, progress=lambda d, n: done.append((d, n)))
    assert [(d, b) for d, b, _ in seen] == [(torch.float32, 10), (torch.float32, 10), (torch.float32, 5)]
    assert len({p for _, _, p in seen}) == 1
    assert done == [(10, 25), (20, 25), (25, 25)]
    with torch.no_grad():
        ref_mu, ref_lv = encode(images.float() / 255)
    np.testing.assert_allclose(mu, ref_mu.numpy(), atol=1e-6)
    np.testing.assert_allclose(logvar, ref_lv.numpy(), atol=1e-6)
    assert encode_dataset(model, images[:0])[0].shape == (0, 3)
