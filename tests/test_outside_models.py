"""Outside models through the protocol (vae/models/): loading, validation messages, and `python -m vae evaluate`
on them against a direct computation of the same estimators in the test (to 1e-4 nats)."""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from vae.cli import main
from vae.models import ProtocolError, load_outside

pytestmark = pytest.mark.usefixtures("one_thread")

HERE = Path(__file__).resolve().parent
SPEC = str(HERE / "outside_vaes.py")
N_IMAGES, K, SEED = 64, 16, 3          # one batch, K within one noise block: the estimator's exact noise


def _run_json(argv: list[str]) -> dict:
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(argv) == 0
    return json.loads(buf.getvalue())


def _perturbed_weights(fn: str, path: Path) -> torch.nn.Module:
    """The module `fn` builds, its parameters moved away from the seeded ones, saved as safetensors."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("outside_vaes_direct", SPEC)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = getattr(mod, fn)()
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
        for name, b in model.named_buffers():
            if name.endswith("running_var"):
                b.fill_(1.3)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return model.eval()


def _direct(model, images_uint8: torch.Tensor, binarize: str, k: int, seed: int) -> tuple[float, float]:
    """The ELBO (K-sample recon, analytic KL) and IWAE of the evaluate command, computed here from the module."""
    x = images_uint8.float()
    if binarize != "none":
        g = torch.Generator().manual_seed(seed)
        x = (torch.rand(images_uint8.shape, generator=g) * 255.0 < images_uint8.float()).float() * 255.0
    x = x / 255.0
    with torch.no_grad():
        mu, logvar = model.encode(x)
        eps = torch.randn((k, *mu.shape), generator=torch.Generator().manual_seed(seed))
        z = mu + torch.exp(0.5 * logvar) * eps                                   # (K, B, D)
        out = model.decode(z.reshape(-1, mu.shape[1]))
        xk = x.unsqueeze(0).expand(k, *x.shape).reshape(-1, *x.shape[1:])
        if model.likelihood == "bernoulli":
            log_px = -F.binary_cross_entropy_with_logits(out, xk, reduction="none").flatten(1).sum(1)
        else:
            mean, log_sigma = out
            log_px = (-0.5 * ((xk - mean) / log_sigma.exp()) ** 2 - log_sigma
                      - 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)
        log_px = log_px.view(k, -1).double()
        zd, mud, lvd = z.double(), mu.double(), logvar.double()
        log_p = -0.5 * (zd ** 2 + math.log(2 * math.pi)).sum(-1)
        log_q = -0.5 * ((zd - mud) ** 2 / lvd.exp() + lvd + math.log(2 * math.pi)).sum(-1)
        kl = 0.5 * (mud ** 2 + lvd.exp() - 1 - lvd).sum(-1)
        elbo = log_px.mean(0) - kl
        iwae = torch.logsumexp(log_px + log_p - log_q, 0) - math.log(k)
    return float(elbo.mean()), float(iwae.mean())


@pytest.fixture(scope="module")
def mnist_test_images():
    from vae.data import load_dataset

    return load_dataset("mnist", test_only=True, download=False).test.images[:N_IMAGES]


@pytest.mark.parametrize("fn, binarize", [("build_mlp", "static"), ("build_conv", "dynamic"),
                                          ("build_gaussian", "none")])
def test_evaluate_outside_model_matches_a_direct_computation(fn, binarize, tmp_path, mnist_test_images):
    weights = tmp_path / "w.safetensors"
    model = _perturbed_weights(fn, weights)
    result = _run_json(["evaluate", f"{SPEC}:{fn}", "--weights", str(weights), "--dataset", "mnist",
                        "--binarize", binarize, "--iwae-samples", str(K), "--limit", str(N_IMAGES),
                        "--seed", str(SEED), "--json", "--device", "cpu"])
    for key in ("elbo", "recon", "kl", "iwae", "gap", "elbo_se", "iwae_se", "active_units", "kl_per_dim", "k", "n"):
        assert key in result
    assert result["n"] == N_IMAGES and result["k"] == K
    elbo, iwae = _direct(model, mnist_test_images, binarize, K, SEED)
    assert abs(result["elbo"] - elbo) < 1e-4, (result["elbo"], elbo)
    assert abs(result["iwae"] - iwae) < 1e-4, (result["iwae"], iwae)
    assert result["elbo"] <= result["iwae"] + 1e-6
    assert math.isclose(result["elbo"], result["recon"] - result["kl"], abs_tol=1e-4)


def test_evaluate_prints_the_same_keys_as_for_a_checkpoint(assets_dir, tmp_path):
    ours = _run_json(["evaluate", str(assets_dir / "digits-2d"), "--json", "--iwae-samples", "4", "--limit", "20"])
    theirs = _run_json(["evaluate", f"{SPEC}:build_mlp", "--dataset", "mnist", "--json", "--iwae-samples", "4",
                        "--limit", "20"])
    assert set(ours) == set(theirs)


def test_a_model_named_as_package_module_function(tmp_path, monkeypatch):
    """`package.module:function` (importable from sys.path) opens as `file.py:function` does: same scores."""
    pkg = tmp_path / "lab_models"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "vaes.py").write_text(Path(SPEC).read_text())
    monkeypatch.syspath_prepend(str(tmp_path))
    m = load_outside("lab_models.vaes:build_mlp")
    assert m.config.latent_dim == 8 and m.where == "lab_models.vaes:build_mlp"
    argv = ["--dataset", "mnist", "--json", "--iwae-samples", "4", "--limit", "16", "--device", "cpu"]
    dotted = _run_json(["evaluate", "lab_models.vaes:build_mlp", *argv])
    by_file = _run_json(["evaluate", f"{SPEC}:build_mlp", *argv])
    assert (dotted["elbo"], dotted["iwae"]) == (by_file["elbo"], by_file["iwae"])
    with pytest.raises(ProtocolError, match="lab_models.nope:build: no module named 'lab_models.nope'"):
        load_outside("lab_models.nope:build")


def test_sample_accepts_an_outside_model(tmp_path):
    out = tmp_path / "grid.png"
    assert main(["sample", f"{SPEC}:build_conv", "--n", "9", "--out", str(out)]) == 0
    from PIL import Image

    assert Image.open(out).size[0] >= 3 * 28


def test_the_adapter_gives_the_analysis_what_it_needs():
    from vae.analysis.latent import encode_dataset
    from vae.analysis.likelihood import elbo_terms, iwae_log_likelihood

    m = load_outside(f"{SPEC}:build_gaussian")
    x = torch.rand(5, 1, 28, 28)
    mu, logvar = encode_dataset(m, (x * 255).to(torch.uint8))
    assert tuple(mu.shape) == (5, 4)
    terms = elbo_terms(m, x, n_samples=3, generator=torch.Generator().manual_seed(0))
    iw = iwae_log_likelihood(m, x, 8, generator=torch.Generator().manual_seed(0))
    assert terms["elbo"].shape == iw.shape == (5,)
    assert m.decode(torch.zeros(2, 4)).shape == (2, 1, 28, 28)
    assert m.config.latent_dim == 4 and m.config.image_shape == (1, 28, 28) and m.config.likelihood == "gaussian"


@pytest.mark.parametrize("target, message", [
    ("build_bad_likelihood", "likelihood must be 'bernoulli' or 'gaussian', got 'poisson'"),
    ("build_wrong_latent", "encode gave mu of shape (2, 8) for 2 images; expected (2, 5)"),
    ("build_wrong_image", "failed on a probe batch of shape (2, 1, 32, 32)"),
    ("build_not_a_module", "build_not_a_module() returned a dict, not a torch.nn.Module"),
    ("no_such_function", "has no attribute 'no_such_function'"),
])
def test_a_model_off_the_protocol_is_refused_with_a_specific_message(target, message):
    with pytest.raises(ProtocolError) as e:
        load_outside(f"{SPEC}:{target}")
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_weights_that_do_not_fit_are_refused(tmp_path):
    bad = tmp_path / "w.safetensors"
    save_file({"fc1.weight": torch.zeros(3, 3)}, str(bad))
    with pytest.raises(ProtocolError, match=r"does not match the model's parameters: missing 9 \(fc1.bias"):
        load_outside(f"{SPEC}:build_mlp", weights=bad)
    state = {k: v.contiguous() for k, v in load_outside(f"{SPEC}:build_mlp").inner.state_dict().items()}
    state["fc4.bias"] = torch.zeros(10)
    save_file(state, str(bad))
    with pytest.raises(ProtocolError, match=r"fc4.bias has shape \(10,\), the model's is \(784,\)"):
        load_outside(f"{SPEC}:build_mlp", weights=bad)
    pickle = tmp_path / "w.pt"
    pickle.write_bytes(b"not a safetensors file")
    with pytest.raises(ProtocolError, match="must be a .safetensors file"):
        load_outside(f"{SPEC}:build_mlp", weights=pickle)


def test_cli_errors_are_one_line(capsys):
    assert main(["evaluate", f"{SPEC}:build_mlp", "--json"]) == 2
    assert "records no data set: name one with --dataset" in capsys.readouterr().err
    assert main(["evaluate", "no_such_file.py:build", "--dataset", "mnist"]) == 2
    assert "no such Python file no_such_file.py" in capsys.readouterr().err


def test_hosted_mode_never_imports_outside_code(monkeypatch, tmp_path):
    marker = tmp_path / "imported"
    src = tmp_path / "evil.py"
    src.write_text(f"open({str(marker)!r}, 'w').write('x')\ndef build():\n    return None\n")
    monkeypatch.setenv("VAE_EXPLORER_HOSTED", "1")
    with pytest.raises(ProtocolError, match="not opened on a hosted server"):
        load_outside(f"{src}:build")
    assert not marker.exists()


def test_project_accepts_an_outside_model(tmp_path):
    """`python -m vae project file.py:function --weights W --dataset D` maps the split like a checkpoint."""
    import numpy as np

    weights = tmp_path / "w.safetensors"
    model = _perturbed_weights("build_conv", weights)
    out = tmp_path / "map.npz"
    assert main(["project", f"{SPEC}:build_conv", "--weights", str(weights), "--dataset", "mnist",
                 "--split", "test", "--method", "pca", "--out", str(out), "--no-cache", "--quiet"]) == 0
    got = np.load(out)
    n = len(got["labels"])
    assert got["embedding"].shape == (n, 2) and got["mu"].shape == (n, model.latent_dim) and n > 100
    from vae.data import load_dataset

    x = load_dataset("mnist", test_only=True).test.images[:5].float() / 255.0   # (5, 1, 28, 28) in [0, 1]
    with torch.no_grad():
        mu, _ = model.eval().encode(x)
    assert np.allclose(got["mu"][:5], mu.numpy(), atol=1e-5)


def test_project_without_a_dataset_for_an_outside_model_is_one_line(capsys):
    assert main(["project", f"{SPEC}:build_mlp", "--out", "x.npz"]) != 0
    err = capsys.readouterr().err.strip()
    assert "--dataset" in err and len(err.splitlines()) == 1
