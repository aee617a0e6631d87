"""Outside VAEs written the way people write them, for the tests of the protocol (vae/models/).

Three styles, each opened as `tests/outside_vaes.py:build_...`:
    build_mlp        an MLP like the PyTorch examples VAE (fc1, fc21, fc22, fc3, fc4), Bernoulli
    build_conv       a conv VAE whose decoder upsamples and convolves (with batch norm), Bernoulli
    build_gaussian   an MLP with a Gaussian likelihood: decode returns (mean, log_sigma)
Small widths so a test runs in seconds on a shared CPU. Each seeds torch, so a build is reproducible.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class ExamplesVAE(nn.Module):
    """pytorch/examples' VAE (784-400-20, here 784-64-8), returning logits instead of sigmoid means."""

    latent_dim = 8
    image_shape = (1, 28, 28)
    likelihood = "bernoulli"

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 64)
        self.fc21 = nn.Linear(64, 8)
        self.fc22 = nn.Linear(64, 8)
        self.fc3 = nn.Linear(8, 64)
        self.fc4 = nn.Linear(64, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x.view(-1, 784)))
        return self.fc21(h1), self.fc22(h1)

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return self.fc4(h3).view(-1, 1, 28, 28)


class UpsampleConvVAE(nn.Module):
    """Conv encoder (two stride-2 convs); decoder: fc -> (16, 7, 7) -> [upsample x2, conv 3x3, BN, ReLU] -> [upsample
    x2, conv 3x3] -> logits (1, 28, 28). The hand-written browser decoder cannot run this one."""

    latent_dim = 6
    image_shape = (1, 28, 28)
    likelihood = "bernoulli"

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 8, 4, 2, 1), nn.ReLU(), nn.Conv2d(8, 16, 4, 2, 1), nn.ReLU(),
                                 nn.Flatten(), nn.Linear(16 * 7 * 7, 2 * 6))
        self.fc = nn.Linear(6, 16 * 7 * 7)
        self.dec = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(16, 8, 3, padding=1),
                                 nn.BatchNorm2d(8), nn.ReLU(),
                                 nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(8, 1, 3, padding=1))

    def encode(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z):
        return self.dec(F.relu(self.fc(z)).view(-1, 16, 7, 7))


class GaussianVAE(nn.Module):
    """An MLP whose p(x|z) is N(mean, sigma^2) per pixel with a learned scalar log-sigma."""

    latent_dim = 4
    image_shape = (1, 28, 28)
    likelihood = "gaussian"

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.Tanh(), nn.Linear(32, 8))
        self.dec = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 784), nn.Sigmoid())
        self.log_sigma = nn.Parameter(torch.tensor(-1.5))

    def encode(self, x):
        h = self.enc(x)
        return h[:, :4], h[:, 4:]

    def decode(self, z):
        return self.dec(z).view(-1, 1, 28, 28), self.log_sigma


def _seeded(cls):
    torch.manual_seed(0)
    return cls().eval()


def build_mlp():
    return _seeded(ExamplesVAE)


def build_conv():
    return _seeded(UpsampleConvVAE)


def build_gaussian():
    return _seeded(GaussianVAE)


# ---- models that break the protocol, each in one way (for the error messages) -----------------------------

class _NoLikelihood(ExamplesVAE):
    likelihood = "poisson"


class _WrongLatent(ExamplesVAE):
    latent_dim = 5          # encode gives 8


class _WrongImage(ExamplesVAE):
    image_shape = (1, 32, 32)


def build_bad_likelihood():
    return _seeded(_NoLikelihood)


def build_wrong_latent():
    return _seeded(_WrongLatent)


def build_wrong_image():
    return _seeded(_WrongImage)


def build_not_a_module():
    return {"encode": None}
