"""Checking an ONNX pair before anything runs it: data from a stranger, never code.

A pair is three files: encoder.onnx, decoder.onnx and vae.json ({"latent_dim": D, "image_shape": [C, H, W],
"likelihood": "bernoulli" | "gaussian"}, optionally "dataset": a data set name such as "mnist"). The graphs
follow the protocol of vae/models/protocol.py:

    encoder.onnx   one input x (B, C, H, W) float32 in [0, 1]  ->  two outputs mu, logvar (B, D)
    decoder.onnx   one input z (B, D) float32                  ->  logits (bernoulli) or mean (gaussian)
                                                                   (B, C, H, W), and for gaussian optionally
                                                                   a second output log_sigma that broadcasts
B is a dynamic (symbolic) axis. `check_onnx_bytes` refuses, each with a one-line message naming the file:
    - a file over the size cap (VAE_MAX_ONNX_MB, default 64 MB), or a model that does not parse
    - any tensor stored as external data (a path the server would open), whatever path it names
    - a tensor whose declared size is over the cap (a 2 GB initializer is refused from its dims; nothing
      is allocated), or whose stored bytes disagree with its dims
    - operators outside the standard ONNX domain (custom domains, ai.onnx.ml, model-local functions)
    - inputs and outputs whose declared shapes do not fit vae.json
    - intermediate tensors whose inferred size for one image is over the cap (a ConstantOfShape bomb)
and runs onnx.checker. The decode of prior points that must be finite is OnnxVAE's probe.
"""

from __future__ import annotations

import json
import math
import os
from types import SimpleNamespace
from typing import Any

from vae.models.protocol import ProtocolConfig, ProtocolError, check_declared

ENCODER_FILE, DECODER_FILE, META_FILE = "encoder.onnx", "decoder.onnx", "vae.json"
ONNX_FILES = (ENCODER_FILE, DECODER_FILE, META_FILE)
MAX_META_BYTES = 64 << 10
STANDARD_DOMAINS = ("", "ai.onnx")


def max_onnx_bytes() -> int:
    """Cap on one .onnx file and on the declared bytes of its tensors (VAE_MAX_ONNX_MB, default 64)."""
    try:
        mb = float(os.environ.get("VAE_MAX_ONNX_MB", "64"))
    except ValueError:
        mb = 64.0
    return int(max(1.0, mb) * 2**20)


def _mb(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.1f} MB"


def read_meta(data: bytes, where: str = META_FILE) -> ProtocolConfig:
    """vae.json's declared attributes, checked. Raises ProtocolError."""
    if len(data) > MAX_META_BYTES:
        raise ProtocolError(f"{where} holds {len(data):,} bytes; at most {MAX_META_BYTES:,} are read")
    try:
        meta = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProtocolError(f"{where} is not valid JSON: {e}") from None
    if not isinstance(meta, dict):
        raise ProtocolError(f"{where} must hold a JSON object with latent_dim, image_shape and likelihood")
    obj = SimpleNamespace(**{k: meta[k] for k in ("latent_dim", "image_shape", "likelihood") if k in meta})
    if isinstance(getattr(obj, "image_shape", None), list):
        obj.image_shape = tuple(obj.image_shape)
    return check_declared(obj, where)


def _tensors_of_graph(graph) -> list[tuple[str, Any]]:
    """(what, TensorProto) of every tensor stored in `graph`: initializers, sparse ones, node attributes."""
    from onnx import AttributeProto

    out = [(f"initializer {t.name!r}", t) for t in graph.initializer]
    for s in graph.sparse_initializer:
        out += [(f"sparse initializer {s.values.name!r}", s.values), (f"sparse indices {s.indices.name!r}", s.indices)]
    for node in graph.node:
        for a in node.attribute:
            if a.type == AttributeProto.TENSOR:
                out.append((f"{node.op_type} node {node.name!r} attribute {a.name!r}", a.t))
            elif a.type == AttributeProto.TENSORS:
                out += [(f"{node.op_type} node {node.name!r} attribute {a.name!r}", t) for t in a.tensors]
    return out


def _subgraphs(graph) -> list:
    from onnx import AttributeProto

    found = []
    for node in graph.node:
        for a in node.attribute:
            if a.type == AttributeProto.GRAPH:
                found.append(a.g)
            elif a.type == AttributeProto.GRAPHS:
                found.extend(a.graphs)
    return found


def _declared_bytes(t) -> int:
    from onnx import TensorProto, helper

    n = math.prod(int(d) for d in t.dims) if len(t.dims) else 1
    if t.data_type == TensorProto.STRING:
        return n
    try:
        size = helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
    except (KeyError, TypeError, ValueError):
        size = 8
    return n * size


def _check_tensor(t, what: str, where: str, cap: int) -> None:
    from onnx import TensorProto

    if t.data_location == TensorProto.EXTERNAL or len(t.external_data):
        loc = next((e.value for e in t.external_data if e.key == "location"), "?")
        raise ProtocolError(f"{where}: {what} is stored as external data ({loc!r}); external data is refused "
                            "(a model must hold its tensors inside the .onnx file)")
    if any(int(d) < 0 for d in t.dims):
        raise ProtocolError(f"{where}: {what} has negative dims {list(t.dims)}")
    declared = _declared_bytes(t)
    if declared > cap:
        raise ProtocolError(f"{where}: {what} declares {_mb(declared)} (dims {list(t.dims)}); the cap is {_mb(cap)}")
    if t.HasField("raw_data") and t.data_type != TensorProto.STRING and len(t.raw_data) != declared:
        raise ProtocolError(f"{where}: {what} stores {len(t.raw_data):,} bytes but its dims {list(t.dims)} declare "
                            f"{declared:,}")


def _dims(value_info) -> list[int | str | None] | None:
    """Declared dims of a graph input/output: ints, names of symbolic axes, None for unknown; None if no shape."""
    tt = value_info.type.tensor_type
    if not tt.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim]


def _check_io(model, role: str, where: str, cfg: ProtocolConfig) -> None:
    from onnx import TensorProto

    g = model.graph
    init = {t.name for t in g.initializer}
    inputs = [i for i in g.input if i.name not in init]
    want_in = (cfg.image_shape if role == "encoder" else (cfg.latent_dim,))
    if len(inputs) != 1:
        raise ProtocolError(f"{where}: expected one input ({'x (B, C, H, W)' if role == 'encoder' else 'z (B, D)'}), "
                            f"found {len(inputs)}")
    n_out = len(g.output)
    if role == "encoder" and n_out != 2:
        raise ProtocolError(f"{where}: expected two outputs (mu, logvar), found {n_out}")
    if role == "decoder" and not (n_out == 1 or (n_out == 2 and cfg.likelihood == "gaussian")):
        raise ProtocolError(f"{where}: expected one output (or mean and log_sigma for a gaussian likelihood), "
                            f"found {n_out}")
    outs = list(g.output) if role == "encoder" else [g.output[0]]
    want_out = (cfg.latent_dim,) if role == "encoder" else cfg.image_shape
    for vi, want, what in [(inputs[0], want_in, "input"), *[(o, want_out, "output") for o in outs]]:
        if vi.type.tensor_type.elem_type != TensorProto.FLOAT:
            raise ProtocolError(f"{where}: {what} {vi.name!r} is not float32")
        dims = _dims(vi)
        if dims is None:
            continue                                   # no declared shape: the probe checks the real one
        shown = "(" + ", ".join("B" if i == 0 and not isinstance(d, int) else str(d if d is not None else "?")
                                for i, d in enumerate(dims)) + ")"
        if len(dims) != 1 + len(want) or any(isinstance(d, int) and d != w for d, w in zip(dims[1:], want)):
            raise ProtocolError(f"{where}: {what} {vi.name!r} has shape {shown}, but vae.json implies "
                                f"(B, {', '.join(map(str, want))})")
        if isinstance(dims[0], int) and dims[0] != 0:
            raise ProtocolError(f"{where}: {what} {vi.name!r} has its batch axis fixed to {dims[0]}; export it "
                                "with a dynamic batch axis (dynamic_axes={'x': {0: 'B'}, ...})")


def check_onnx_bytes(data: bytes, role: str, cfg: ProtocolConfig, where: str | None = None):
    """Parse and check one graph (role "encoder" or "decoder") against vae.json; the onnx.ModelProto.

    Raises ProtocolError naming the file and the problem (see the module docstring)."""
    import onnx

    where = where or (ENCODER_FILE if role == "encoder" else DECODER_FILE)
    cap = max_onnx_bytes()
    if len(data) > cap:
        raise ProtocolError(f"{where} holds {_mb(len(data))}; the cap is {_mb(cap)} (VAE_MAX_ONNX_MB)")
    try:
        model = onnx.load_model_from_string(bytes(data))
    except Exception as e:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise ProtocolError(f"{where} is not an ONNX model ({type(e).__name__})") from None
    if not model.HasField("graph"):
        raise ProtocolError(f"{where} is not an ONNX model (no graph)")
    for op in model.opset_import:
        if op.domain not in STANDARD_DOMAINS:
            raise ProtocolError(f"{where} imports operator set {op.domain!r}; only the standard ONNX operators are "
                                "accepted")
    if len(model.functions):
        raise ProtocolError(f"{where} defines its own functions ({model.functions[0].domain}::"
                            f"{model.functions[0].name}); only the standard ONNX operators are accepted")
    graphs, total = [model.graph], 0
    while graphs:
        g = graphs.pop()
        for node in g.node:
            if node.domain not in STANDARD_DOMAINS:
                raise ProtocolError(f"{where}: node {node.name!r} is {node.domain}::{node.op_type}, a custom-domain "
                                    "operator; only the standard ONNX operators are accepted")
        for what, t in _tensors_of_graph(g):
            _check_tensor(t, what, where, cap)
            total += _declared_bytes(t)
            if total > cap:
                raise ProtocolError(f"{where}: its tensors declare {_mb(total)} in all; the cap is {_mb(cap)}")
        graphs.extend(_subgraphs(g))
    _check_io(model, role, where, cfg)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ProtocolError(f"{where} is not a valid ONNX model: {first}") from None
    _check_intermediate_sizes(model, where, cap)
    return model


def _check_intermediate_sizes(model, where: str, cap: int) -> None:
    """Refuse a graph whose inferred intermediate tensors would hold more than `cap` bytes for one image (say a
    ConstantOfShape of 2^31 elements: small on disk, a memory bomb when run). Shapes come from onnx's shape
    inference with constant propagation, the batch axis counted as 1; a dimension it cannot infer (computed from
    the data at run time) is not bounded here."""
    from onnx import shape_inference

    try:
        inferred = shape_inference.infer_shapes(model, data_prop=True)
    except Exception as e:  # noqa: BLE001 - onnx's InferenceError and friends
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise ProtocolError(f"{where}: its shapes do not check out: {first}") from None
    for vi in [*inferred.graph.value_info, *inferred.graph.output]:
        tt = vi.type.tensor_type
        if not tt.HasField("shape"):
            continue
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        known = [d for i, d in enumerate(dims) if d is not None and not (i == 0 and d == 0)]
        if not known:
            continue
        try:
            from onnx import helper
            size = helper.tensor_dtype_to_np_dtype(tt.elem_type).itemsize
        except (KeyError, TypeError, ValueError):
            size = 8
        n = math.prod(known) * size
        if n > cap:
            shown = [d if d is not None else "?" for d in dims]
            raise ProtocolError(f"{where}: intermediate tensor {vi.name!r} would hold {_mb(n)} for one image (dims "
                                f"{shown}); the cap is {_mb(cap)}")
