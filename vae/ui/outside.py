"""The outside model named when the app starts, and ONNX uploads, as LoadedModels for the sidebar.

    python -m streamlit run app.py -- --model my_vae.py:build --weights W.safetensors --dataset mnist
    VAE_EXPLORER_MODEL=my_vae.py:build VAE_EXPLORER_WEIGHTS=W.safetensors VAE_EXPLORER_DATASET=mnist \
        python -m streamlit run app.py

The command line wins over the environment. Only whoever starts the server names it: a browser never
does. In hosted mode (VAE_EXPLORER_HOSTED=1) it is refused with a message and never imported.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

import streamlit as st

from vae.ui.loaders import LoadedModel

ENV_MODEL, ENV_WEIGHTS, ENV_DATASET = "VAE_EXPLORER_MODEL", "VAE_EXPLORER_WEIGHTS", "VAE_EXPLORER_DATASET"


@dataclass(frozen=True)
class OutsideRequest:
    """What the server was started with: the model's spec, its weights file and its data set (or None)."""

    spec: str
    weights: str | None = None
    dataset: str | None = None

    @property
    def label(self) -> str:
        target, _, fn = self.spec.rpartition(":")
        return f"{os.path.basename(target)}:{fn}"


def parse_request(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> OutsideRequest | None:
    """The outside model named by the script's arguments (`-- --model ...`) or the environment, or None."""
    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--model")
    parser.add_argument("--weights")
    parser.add_argument("--dataset")
    args, _ = parser.parse_known_args(argv)
    spec = args.model or environ.get(ENV_MODEL, "").strip() or None
    if not spec:
        return None
    weights = args.weights or environ.get(ENV_WEIGHTS, "").strip() or None
    dataset = args.dataset or environ.get(ENV_DATASET, "").strip() or None
    return OutsideRequest(spec, weights, dataset)


@st.cache_resource(max_entries=4, show_spinner="Opening your model ...")
def _outside_model(spec: str, weights: str | None, dataset: str | None, device: str, identity: str):
    from vae.models import load_outside

    return load_outside(spec, weights=weights, device=device, dataset=dataset)


def load_requested(request: OutsideRequest, device: str) -> LoadedModel:
    """The outside model as a LoadedModel (source "outside"). Raises ProtocolError (hosted: always, unimported)."""
    from vae.models.outside import HOSTED_REFUSAL, hosted, outside_identity
    from vae.models.protocol import ProtocolError

    if hosted():
        raise ProtocolError(HOSTED_REFUSAL)
    identity = outside_identity(request.spec, request.weights)
    model = _outside_model(request.spec, request.weights, request.dataset, device, identity)
    return LoadedModel(model, identity, request.label, "outside", files=_weights_files(model))


def _weights_files(model) -> tuple[tuple[str, bytes], ...]:
    """What "Download model" gives for a model the app did not build: its weights and its vae.json."""
    import json

    from safetensors.torch import save

    inner = getattr(model, "inner", None)
    state = {k: v.detach().cpu().contiguous() for k, v in inner.state_dict().items()} if inner is not None else {}
    c = model.config
    meta = {"latent_dim": c.latent_dim, "image_shape": list(c.image_shape), "likelihood": c.likelihood}
    return (("model.safetensors", save(state) if state else b""), ("vae.json", json.dumps(meta).encode()))


def hosted_refusal() -> str:
    from vae.models.outside import HOSTED_REFUSAL

    return HOSTED_REFUSAL


@st.cache_resource(max_entries=4, show_spinner="Checking the ONNX model ...")
def _onnx_model(identity: str, where: str, _files: dict[str, bytes]):
    from vae.models.onnx_model import load_onnx

    return load_onnx(_files, where=where)


def load_onnx_upload(uploads: list[tuple[str, bytes]]) -> LoadedModel | None:
    """Uploaded files as an ONNX model (source "onnx"), checked before use (vae/models/onnx_check.py); None when
    they are not an ONNX model (a checkpoint, say). Data, not code: accepted in hosted mode too. Raises
    ProtocolError naming the upload and the problem."""
    from vae.models.onnx_model import files_from_names, onnx_identity

    files = files_from_names(uploads)
    if files is None:
        return None
    names = [os.path.basename(n) for n, _ in uploads]
    where = names[0] if len(names) == 1 else "upload"
    identity = onnx_identity(files)
    model = _onnx_model(identity, where, files)
    label = names[0] if len(names) == 1 else f"onnx {identity[:8]}"
    return LoadedModel(model, identity, label, "onnx", files=tuple(sorted(model.files.items())))
