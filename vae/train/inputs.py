"""What a training run starts from: a seeded model, its data set (and what a checkpoint records of
it), the data as device floats, and the seeds of its random streams."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vae.config import ModelConfig, TrainConfig
from vae.model import VAE

__all__ = ["make_model", "make_adam", "dataset_info", "load_training_data", "device_data"]


def _mix(*ints: int) -> int:
    """A 63-bit seed from several integers (splitmix64 steps), so (seed, epoch, step) streams differ."""
    h = 0x9E3779B97F4A7C15
    for v in ints:
        h = (h ^ (int(v) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF


def make_model(model_config: ModelConfig, seed: int = 0) -> VAE:
    """A freshly initialised VAE whose weights depend only on `seed` (the global RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return VAE(model_config)


def make_adam(model: torch.nn.Module, lr: float, device: torch.device) -> torch.optim.Optimizer:
    """Adam over the model's trainable parameters: fused on CUDA and the CPU where supported, else foreach."""
    params = [p for p in model.parameters() if p.requires_grad]
    kind = "fused" if device.type in ("cuda", "cpu") else "foreach"
    try:
        return torch.optim.Adam(params, lr=lr, **{kind: True})
    except (RuntimeError, TypeError, ValueError):  # fused not supported for this device / dtype
        return torch.optim.Adam(params, lr=lr)


def device_data(dataset, config: TrainConfig, device: torch.device,
                test_binarize_seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_train (N, C, H, W), x_test (M, C, H, W)) float in [0, 1] on `device`, binarised as the recipe says:
    a static draw of the training split from its seed, and the test split's fixed draw `test_binarize_seed`
    (the very draw vae.analysis.likelihood.evaluate_model scores) whenever the recipe binarises."""
    x_train = _images_to_float(dataset.train.images, device)
    if config.binarize == "static":
        x_train = _binarize(x_train, _mix(config.seed, 0x5747))
    if config.binarize != "none":
        from vae.analysis.likelihood import static_binarize
        x_test = static_binarize(dataset.test.images, test_binarize_seed).to(device).float()
    else:
        x_test = _images_to_float(dataset.test.images, device)
    return x_train, x_test


def dataset_info(dataset, train_config: TrainConfig | None = None) -> dict[str, Any]:
    """What a checkpoint records about its data: {"name", "image_shape", "class_names", "factor_names", "kwargs"}.

    `kwargs` are what `load_training_data` needs to load the same data again (data_dir and the
    dataset options of TrainConfig.extra, e.g. image_size, n_train).
    """
    kwargs: dict[str, Any] = {}
    if train_config is not None:
        kwargs = {"data_dir": train_config.data_dir, **train_config.extra}
    return {"name": dataset.name, "image_shape": list(dataset.image_shape),
            "class_names": list(dataset.class_names), "factor_names": list(getattr(dataset, "factor_names", [])),
            "kwargs": kwargs}


def load_training_data(train_config: TrainConfig, data_dir: str | None = None):
    """The ImageDataset a TrainConfig names: `dataset` ("digits", "mnist", ... or "folder:<path>"),
    `data_dir` (overridden by the argument when given) and the options in `extra`."""
    from vae import data  # imported here: the data module pulls in scikit-learn lazily, Pillow, ...

    kwargs = dict(train_config.extra)
    data_dir = data_dir if data_dir is not None else train_config.data_dir
    if train_config.dataset.startswith("folder:"):
        return data.load_image_folder(data_dir or train_config.dataset[len("folder:"):], **kwargs)
    return data.load_dataset(train_config.dataset, data_dir=data_dir, **kwargs)


def _same_path(a: str | Path, b: str | Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def _images_to_float(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (N, C, H, W) on the host -> float32 (N, C, H, W) in [0, 1] on `device` (moved as uint8)."""
    return images.to(device).to(torch.float32).div_(255.0)


def _binarize(x: torch.Tensor, seed: int) -> torch.Tensor:
    """A seeded Bernoulli draw of float images in [0, 1] (same shape, device; values {0, 1})."""
    from vae.data import binarize_images

    gen = torch.Generator(device=x.device).manual_seed(seed)
    return binarize_images(x, generator=gen)
