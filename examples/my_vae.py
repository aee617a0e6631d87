"""A VAE written the way pytorch/examples writes one, trained with its own loop, opened in the explorer."""
import argparse, gzip
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F
from safetensors.torch import save_file


class VAE(nn.Module):
    latent_dim, image_shape, likelihood = 20, (1, 28, 28), "bernoulli"   # what the explorer reads

    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def encode(self, x):                       # (B, 1, 28, 28) in [0, 1] -> mu, logvar (B, 20)
        h = F.relu(self.fc1(x.view(-1, 784)))
        return self.fc21(h), self.fc22(h)

    def decode(self, z):                       # (B, 20) -> logits (B, 1, 28, 28)
        return self.fc4(F.relu(self.fc3(z))).view(-1, 1, 28, 28)


def build():
    return VAE()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--images", default="mnist/train-images-idx3-ubyte.gz")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--limit", type=int, default=None)
    args = p.parse_args()
    x = np.frombuffer(gzip.open(args.images).read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    x = torch.from_numpy(x[:args.limit].copy()).float() / 255
    torch.manual_seed(0)
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(args.epochs):
        for batch in x[torch.randperm(len(x))].split(128):
            mu, logvar = model.encode(batch)
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            bce = F.binary_cross_entropy_with_logits(model.decode(z), batch, reduction="sum")
            kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            opt.zero_grad()
            ((bce + kld) / len(batch)).backward()
            opt.step()
        print(f"epoch {epoch + 1}: loss {(bce + kld).item() / len(batch):.1f}")
    save_file(model.state_dict(), "my_vae.safetensors")
