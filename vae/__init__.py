"""vae: a small, fast, tested variational autoencoder library behind the latent-space explorer.

    from vae import VAE, ModelConfig, load_model, save_model
    model = load_model("assets/digits-2d")
    mu, logvar = model.encode(x)          # x (B, C, H, W) in [0, 1]
    x_mean = model.decode(mu)             # (B, C, H, W) in [0, 1]

The names are imported on first use (PEP 562 `__getattr__`): `import vae.<module>` of a torch-free module
(vae.config, vae.browser_weights, vae.safeio, ...) does not import torch, which is 2-3.5 s of a fresh
server's first page (see vae.browser_weights).
"""

from importlib import import_module

# public name -> the module that defines it
_EXPORTS = {"VAE": ".model", "VAEOutput": ".objectives", "ModelConfig": ".config", "TrainConfig": ".config",
            "ConfigError": ".config", "CheckpointError": ".checkpoint", "load_model": ".checkpoint",
            "save_model": ".checkpoint", "pick_device": ".device"}

__all__ = ["VAE", "VAEOutput", "ModelConfig", "TrainConfig", "ConfigError", "CheckpointError",
           "load_model", "save_model", "pick_device"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vae' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
