"""decoder.onnx with float16 weights and float32 input, output and arithmetic: half the bytes to send.

    small = float16_weights(decoder_bytes)                 # bytes of an ONNX model -> bytes
    pixel_difference(decoder_bytes, small, latent_dim, "sigmoid")   # largest |pixel change|, pixels in [0, 1]

Each float32 initializer of at least MIN_ELEMENTS values (the weight matrices and kernels) is stored as
float16 and turned back into float32 by a Cast node at the start of the graph; smaller ones (biases, batch-norm
statistics, Resize scales) stay float32, as do the graph's input "z" and its outputs. Every runtime computes
exactly as before on the rounded weights (onnxruntime folds the Casts at session start), so the only change
is float16's rounding of each weight (a relative 2^-11 at most). Whether that changes a picture is measured,
never assumed: `pixel_difference` decodes prior points with both graphs (onnxruntime on the CPU) and the
caller keeps float16 only within 1/255 (one grey level), as vae.browser_decoder does for its own weights.
"""

from __future__ import annotations

import numpy as np

MIN_ELEMENTS = 256                      # smaller float32 tensors stay float32 (at most 1 KB each)
FLOAT16_MAX = float(np.finfo(np.float16).max)
ONE_GREY_LEVEL = 1.0 / 255.0


def float16_weights(data: bytes, min_elements: int = MIN_ELEMENTS) -> bytes:
    """The ONNX model `data` with its large float32 initializers stored as float16 (see the module docstring).
    A tensor with a value beyond float16's range (65504) stays float32. Returns `data` itself when nothing
    was converted."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load_from_string(data)
    graph = model.graph
    taken = {t.name for t in graph.initializer} | {i.name for i in graph.input} | \
        {o for n in graph.node for o in n.output}
    graph_inputs = {i.name for i in graph.input}      # an initializer that is also an input (IR < 4) may be fed
    inits, casts = [], []
    for t in graph.initializer:
        n = int(np.prod(t.dims)) if len(t.dims) else 1
        if t.data_type != TensorProto.FLOAT or n < min_elements or t.name in graph_inputs:
            inits.append(t)
            continue
        values = numpy_helper.to_array(t)
        if not np.all(np.abs(values) <= FLOAT16_MAX):
            inits.append(t)
            continue
        name = f"{t.name}__float16"
        while name in taken:
            name += "_"
        taken.add(name)
        inits.append(numpy_helper.from_array(values.astype(np.float16), name))
        casts.append(helper.make_node("Cast", [name], [t.name], to=TensorProto.FLOAT, name=f"{name}__cast"))
    if not casts:
        return data
    nodes = casts + list(graph.node)
    del graph.initializer[:]
    graph.initializer.extend(inits)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def weights_dtype(data: bytes) -> str:
    """"float16" when the ONNX model `data` stores any initializer as float16 (as `float16_weights` writes it, or
    `python -m vae export-onnx --float16`), else "float32"."""
    import onnx
    from onnx import TensorProto

    graph = onnx.load_from_string(data).graph
    return "float16" if any(t.data_type == TensorProto.FLOAT16 for t in graph.initializer) else "float32"


def decode_pixels(data: bytes, z: np.ndarray, transform: str) -> np.ndarray:
    """The ONNX decoder `data` run with onnxruntime (CPU) on z (B, D): its first output as pixels (B, C*H*W)
    float64 in [0, 1], after `transform` ("sigmoid" of logits, or "clamp" of a Gaussian mean to [0, 1])."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: np.asarray(z, dtype=np.float32)})[0]
    out = out.reshape(len(out), -1).astype(np.float64)
    # sigmoid as 0.5 (1 + tanh(x / 2)): no overflow for logits of any size
    return 0.5 * (1.0 + np.tanh(0.5 * out)) if transform == "sigmoid" else np.clip(out, 0.0, 1.0)


def pixel_difference(reference: bytes, other: bytes, latent_dim: int, transform: str, n: int = 64,
                     seed: int = 0) -> float:
    """Largest |pixel of `other` - pixel of `reference`| (pixels in [0, 1]) over n prior points z ~ N(0, 1.5^2)
    (vae.browser_decoder.float16_parity's points), both decoders run by `decode_pixels`."""
    z = (np.random.default_rng(seed).standard_normal((n, latent_dim)) * 1.5).astype(np.float32)
    return float(np.abs(decode_pixels(other, z, transform) - decode_pixels(reference, z, transform)).max())
