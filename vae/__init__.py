"""vae: a small, fast, tested variational autoencoder library behind the latent-space explorer.

    from vae import VAE, ModelConfig, load_model, save_model
    model = load_model("assets/digits-2d")
    mu, logvar = model.encode(x)          # x (B, C, H, W) in [0, 1]
    x_mean = model.decode(mu)             # (B, C, H, W) in [0, 1]
"""

from .checkpoint import CheckpointError, load_model, save_model
from .config import ConfigError, ModelConfig, TrainConfig
from .device import pick_device
from .model import VAE
from .objectives import VAEOutput

__all__ = ["VAE", "VAEOutput", "ModelConfig", "TrainConfig", "ConfigError", "CheckpointError",
           "load_model", "save_model", "pick_device"]
__version__ = "0.1.0"
