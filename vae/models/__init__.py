"""Explorable models: the protocol (protocol.py) and its adapters.

    ProtocolVAE       the adapter base: what the app and vae.analysis call on any model
    OutsideVAE        a user's torch module named as file.py:fn or package.module:fn (local mode only)
    OnnxVAE           encoder.onnx + decoder.onnx + vae.json, run with onnxruntime (any mode; onnx_model.py)

The project's own checkpoints load as vae.model.VAE, which already has every name the protocol asks for.
"""

from vae.models.outside import OutsideVAE, load_outside, looks_like_spec
from vae.models.protocol import LIKELIHOODS, ProtocolConfig, ProtocolError, ProtocolVAE, check_declared

__all__ = ["LIKELIHOODS", "OutsideVAE", "ProtocolConfig", "ProtocolError", "ProtocolVAE", "check_declared",
           "load_outside", "looks_like_spec"]
