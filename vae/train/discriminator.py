"""FactorVAE's discriminator (Kim & Mnih 2018, "Disentangling by Factorising"): a small MLP D that tells
codes z ~ q(z) from codes whose dimensions were shuffled independently across a batch (samples of
prod_j q(z_j)). By the density-ratio trick its two logits estimate the total correlation:

    TC(z) = KL(q(z) || prod_j q(z_j)) ~ E_q(z)[ logit_real(z) - logit_fake(z) ]      (nats)

FactorVAE trains the VAE on  ELBO - gamma * TC  (the trainer adds `gamma * penalty(z)` to the loss),
and D, with its own Adam (Kim & Mnih: lr 1e-4, betas (0.5, 0.9)), on the cross-entropy of
"real" codes (one half of the batch, detached) against dimension-permuted codes (the other half).

`FactorDiscriminator` is the component the Trainer owns: the network, its optimiser, and their state as
flat tensors for the checkpoint (`state_tensors` / `load_state_tensors`), so a resumed run continues
exactly. Its initial weights depend only on the recipe's seed.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["Discriminator", "FactorDiscriminator", "permute_dims", "REAL", "FAKE"]

REAL, FAKE = 0, 1          # the discriminator's two logits: z ~ q(z), z ~ prod_j q(z_j)
ADAM_BETAS = (0.5, 0.9)    # Kim & Mnih's discriminator optimiser


class Discriminator(nn.Module):
    """z (B, D) -> logits (B, 2) [real, fake]: Linear + LeakyReLU(0.2) per hidden width, then Linear."""

    def __init__(self, latent_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        layers: list[nn.Module] = []
        width = latent_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
            width = h
        layers.append(nn.Linear(width, 2))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def permute_dims(z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each column of z (B, D) shuffled by its own random permutation of the B rows: samples of
    prod_j q(z_j) when the rows are samples of q(z). Same shape, device and dtype."""
    order = torch.rand(z.shape, generator=generator, device=z.device).argsort(dim=0)    # (B, D)
    return z.gather(0, order)


class FactorDiscriminator:
    """The discriminator, its Adam optimiser, and the two things a FactorVAE step asks of them.

        disc = FactorDiscriminator(latent_dim=10, hidden=(256, 256), lr=1e-4, seed=0, device="cpu")
        tc = disc.penalty(out.z)                    # (B,) nats, differentiable in z (D's weights are not stepped)
        loss = out.loss + gamma * tc.mean(); loss.backward(); vae_optimizer.step()
        d_loss = disc.update(out.z, generator)     # one Adam step of D; scalar, detached
    """

    def __init__(self, latent_dim: int, hidden: tuple[int, ...], lr: float, seed: int,
                 device: str | torch.device = "cpu"):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = Discriminator(latent_dim, tuple(hidden)).to(device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr, betas=ADAM_BETAS)

    def penalty(self, z: torch.Tensor) -> torch.Tensor:
        """(B,) estimates of the total correlation at codes z (B, D): logit_real - logit_fake, nats.
        Gradients reach z (and D's weights, which `update` clears before D's own step)."""
        logits = self.net(z)
        return logits[:, REAL] - logits[:, FAKE]

    def loss(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """D's cross-entropy (scalar, nats per code, mean over both halves) on codes z (B, D), B >= 2:
        the first half labelled real, the second half dimension-permuted and labelled fake. No step."""
        z = z.detach()
        half = z.shape[0] // 2
        real, fake = z[:half], permute_dims(z[half:2 * half], generator)
        logits = self.net(torch.cat([real, fake]))
        labels = torch.cat([torch.full((half,), REAL), torch.full((half,), FAKE)]).to(z.device)
        return F.cross_entropy(logits, labels)

    def update(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One Adam step of D on codes z (B, D) (see `loss`); returns the loss before the step, detached.
        A batch of fewer than 2 codes (a short last batch) takes no step and returns NaN-free 0."""
        if z.shape[0] < 2:
            return z.new_zeros(())
        d_loss = self.loss(z, generator)
        self.optimizer.zero_grad(set_to_none=True)    # drops the grads the VAE's penalty left on D
        d_loss.backward()
        self.optimizer.step()
        return d_loss.detach()

    # ---- checkpoint state -----------------------------------------------------------------
    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict]:
        """(flat tensors for a safetensors file, JSON-able rest): D's weights as "net.<name>", Adam's
        per-parameter tensors as "opt.<param id>.<name>"; the JSON holds Adam's param groups and scalars."""
        tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        sd = self.optimizer.state_dict()
        scalars: dict[str, dict] = {}
        for pid, st in sd["state"].items():
            for k, v in st.items():
                if torch.is_tensor(v):
                    tensors[f"opt.{pid}.{k}"] = v.detach().cpu().contiguous()
                else:
                    scalars.setdefault(str(pid), {})[k] = v
        return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Restore what `state_tensors` gave; ValueError when it does not fit this discriminator."""
        device = next(self.net.parameters()).device
        weights = {k[4:]: v.to(device) for k, v in tensors.items() if k.startswith("net.")}
        try:
            self.net.load_state_dict(weights)
        except RuntimeError as e:
            raise ValueError(f"the saved discriminator does not fit this recipe's (disc_hidden): {e}") from None
        state: dict[int, dict] = {}
        for key, v in tensors.items():
            if key.startswith("opt."):
                pid, name = key[4:].split(".", 1)
                state.setdefault(int(pid), {})[name] = v
        for pid, d in (meta.get("scalars") or {}).items():
            state.setdefault(int(pid), {}).update(d)
        self.optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
