"""ONNX pairs (vae/models/onnx_*.py): `export-onnx` of the project's own models agrees with them to 1e-5, an
exported pair scores like its checkpoint, and hostile files are each refused with a specific message."""

from __future__ import annotations

import io
import json
import zipfile
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from vae.cli import main  # noqa: E402
from vae.models import ProtocolError  # noqa: E402
from vae.models.onnx_model import files_from_names, load_onnx, read_onnx_folder  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")
REPO = Path(__file__).resolve().parents[1]
SPEC = str(REPO / "tests" / "outside_vaes.py")
D, SHAPE = 2, (1, 4, 4)


def _run_json(argv):
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(argv) == 0
    return json.loads(buf.getvalue())


# ---- a small valid pair, built by hand, and its hostile variants ------------------------------------------

def _model(nodes, inputs, outputs, inits, opsets=None, **kw) -> bytes:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=inits)
    m = helper.make_model(graph, opset_imports=opsets or [helper.make_opsetid("", 17)], **kw)
    m.ir_version = 8
    return m.SerializeToString()


def _x(name, *dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["B", *dims])


def encoder_bytes(image=SHAPE, d=D) -> bytes:
    n = int(np.prod(image))
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array((rng.standard_normal((n, d)) * 0.1).astype(np.float32), "Wm"),
             numpy_helper.from_array((rng.standard_normal((n, d)) * 0.1).astype(np.float32), "Wv")]
    nodes = [helper.make_node("Flatten", ["x"], ["h"], axis=1), helper.make_node("MatMul", ["h", "Wm"], ["mu"]),
             helper.make_node("MatMul", ["h", "Wv"], ["logvar"])]
    return _model(nodes, [_x("x", *image)], [_x("mu", d), _x("logvar", d)], inits)


def decoder_bytes(d=D, image=SHAPE, weight=None, extra_nodes=(), extra_inits=(), opsets=None, out="y") -> bytes:
    n = int(np.prod(image))
    w = weight if weight is not None else (np.random.default_rng(1).standard_normal((d, n)) * 0.5).astype(np.float32)
    inits = [numpy_helper.from_array(w, "Wd"), numpy_helper.from_array(np.array([-1, *image], np.int64), "shape"),
             *extra_inits]
    nodes = [helper.make_node("MatMul", ["z", "Wd"], ["h"]), helper.make_node("Reshape", ["h", "shape"], ["y"]),
             *extra_nodes]
    return _model(nodes, [_x("z", d)], [_x(out, *image)], inits, opsets=opsets)


def meta(d=D, image=SHAPE, likelihood="bernoulli") -> bytes:
    return json.dumps({"latent_dim": d, "image_shape": list(image), "likelihood": likelihood}).encode()


def pair(**over) -> dict[str, bytes]:
    files = {"encoder.onnx": encoder_bytes(), "decoder.onnx": decoder_bytes(), "vae.json": meta()}
    files.update(over)
    return files


def test_a_hand_built_pair_loads_and_decodes():
    m = load_onnx(pair(), "ok.zip")
    assert m.config.arch == "onnx" and m.config.latent_dim == D
    x = m.decode(torch.zeros(3, D))
    assert x.shape == (3, *SHAPE) and torch.isfinite(x).all()
    mu, logvar = m.encode(torch.rand(5, *SHAPE))
    assert mu.shape == logvar.shape == (5, D)


def _external_data_decoder() -> bytes:
    w = numpy_helper.from_array(np.zeros((D, 16), np.float32), "Wd")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "/etc/passwd"), ("offset", "0"), ("length", "128")):
        e = w.external_data.add()
        e.key, e.value = k, v
    shape = numpy_helper.from_array(np.array([-1, *SHAPE], np.int64), "shape")
    nodes = [helper.make_node("MatMul", ["z", "Wd"], ["h"]), helper.make_node("Reshape", ["h", "shape"], ["y"])]
    return _model(nodes, [_x("z", D)], [_x("y", *SHAPE)], [w, shape])


def _two_gigabyte_decoder() -> bytes:
    """A float32 initializer declared (1, 2^29): 2 GiB by its dims, stored as nothing (nothing is allocated)."""
    big = TensorProto(name="Big", data_type=TensorProto.FLOAT, dims=[1, 2**29])
    return decoder_bytes(extra_inits=[big])


def _custom_op_decoder() -> bytes:
    node = helper.make_node("Pwn", ["y"], ["y2"], domain="com.evil")
    return decoder_bytes(extra_nodes=[node], out="y2",
                         opsets=[helper.make_opsetid("", 17), helper.make_opsetid("com.evil", 1)])


def _memory_bomb_decoder() -> bytes:
    """A few hundred bytes on disk whose run would fill 8 GB: ConstantOfShape [1, 2^31] summed into the output."""
    big_shape = numpy_helper.from_array(np.array([1, 2**31], np.int64), "big_shape")
    nodes = [helper.make_node("ConstantOfShape", ["big_shape"], ["big"]),
             helper.make_node("ReduceSum", ["big"], ["s"], keepdims=0),
             helper.make_node("Add", ["y", "s"], ["y2"])]
    return decoder_bytes(extra_nodes=nodes, extra_inits=[big_shape], out="y2")


def _lying_shape_decoder() -> bytes:
    """Declares y (B, 1, 4, 4), as vae.json implies, but reshapes to a shape computed at run time: (B, 16)."""
    w = (np.random.default_rng(1).standard_normal((D, 16)) * 0.5).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["z", "Wd"], ["h"]), helper.make_node("Shape", ["h"], ["hs"]),
             helper.make_node("Reshape", ["h", "hs"], ["y"])]
    return _model(nodes, [_x("z", D)], [_x("y", *SHAPE)], [numpy_helper.from_array(w, "Wd")])


def _lying_shape_encoder() -> bytes:
    """Declares mu (B, 2) but gives (B, 3): its weight matrix has three columns."""
    n = int(np.prod(SHAPE))
    inits = [numpy_helper.from_array(np.zeros((n, 3), np.float32), "Wm"),
             numpy_helper.from_array(np.zeros((n, D), np.float32), "Wv")]
    nodes = [helper.make_node("Flatten", ["x"], ["h"], axis=1), helper.make_node("MatMul", ["h", "Wm"], ["m3"]),
             helper.make_node("Shape", ["m3"], ["ms"]), helper.make_node("Reshape", ["m3", "ms"], ["mu"]),
             helper.make_node("MatMul", ["h", "Wv"], ["logvar"])]
    return _model(nodes, [_x("x", *SHAPE)], [_x("mu", D), _x("logvar", D)], inits)


def _nan_decoder() -> bytes:
    return decoder_bytes(weight=np.full((D, 16), np.nan, np.float32))


@pytest.mark.parametrize("files, message", [
    (lambda: pair(**{"decoder.onnx": _external_data_decoder()}),
     "decoder.onnx: initializer 'Wd' is stored as external data ('/etc/passwd'); external data is refused"),
    (lambda: pair(**{"decoder.onnx": _two_gigabyte_decoder()}),
     "decoder.onnx: initializer 'Big' declares 2.0 GB (dims [1, 536870912]); the cap is 64.0 MB"),
    (lambda: pair(**{"decoder.onnx": _custom_op_decoder()}),
     "decoder.onnx imports operator set 'com.evil'; only the standard ONNX operators are accepted"),
    (lambda: pair(**{"decoder.onnx": decoder_bytes(d=3)}),
     "decoder.onnx: input 'z' has shape (B, 3), but vae.json implies (B, 2)"),
    (lambda: pair(**{"encoder.onnx": encoder_bytes(image=(1, 5, 5))}),
     "encoder.onnx: input 'x' has shape (B, 1, 5, 5), but vae.json implies (B, 1, 4, 4)"),
    # shapes declared as vae.json implies, but the graph computes others: the probe batch catches them
    (lambda: pair(**{"decoder.onnx": _lying_shape_decoder()}),
     "decoder.onnx gave shape (2, 16) for 2 latent points; expected (2, 1, 4, 4)"),
    (lambda: pair(**{"encoder.onnx": _lying_shape_encoder()}),
     "encoder.onnx gave mu of shape (2, 3) for 2 images; expected (2, 2)"),
    (lambda: pair(**{"decoder.onnx": _memory_bomb_decoder()}),
     "decoder.onnx: intermediate tensor 'big' would hold 8.0 GB for one image (dims [1, 2147483648])"),
    (lambda: pair(**{"decoder.onnx": _nan_decoder()}),
     "decoder.onnx gives NaN or inf when decoding prior points"),
    (lambda: pair(**{"vae.json": meta(likelihood="poisson")}),
     "likelihood must be 'bernoulli' or 'gaussian', got 'poisson'"),
])
def test_hostile_onnx_files_are_refused_with_a_specific_message(files, message):
    with pytest.raises(ProtocolError) as e:
        load_onnx(files(), "upload.zip")
    assert message in str(e.value), str(e.value)
    assert str(e.value).startswith("upload.zip")
    assert "\n" not in str(e.value)


def test_a_custom_op_without_its_opset_is_refused_by_the_node_check():
    m = onnx.load_model_from_string(_custom_op_decoder())
    del m.opset_import[1]
    with pytest.raises(ProtocolError, match="node '' is com.evil::Pwn, a custom-domain operator"):
        load_onnx(pair(**{"decoder.onnx": m.SerializeToString()}), "upload.zip")


def test_the_2gb_tensor_is_never_allocated():
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    data = _two_gigabyte_decoder()
    assert len(data) < 10_000
    with pytest.raises(ProtocolError):
        load_onnx(pair(**{"decoder.onnx": data}), "u")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 500_000   # KiB: far below 2 GiB


def test_an_upload_zip_of_the_three_files_is_recognised_and_a_checkpoint_zip_is_not(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in pair().items():
            zf.writestr(f"my_vae/{name}", data)
    files = files_from_names([("my_vae.zip", buf.getvalue())])
    assert set(files) == {"encoder.onnx", "decoder.onnx", "vae.json"}
    assert load_onnx(files, "my_vae.zip").config.image_shape == SHAPE
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("config.json", "{}")
    assert files_from_names([("ckpt.zip", other.getvalue())]) is None


# ---- export of the project's own models ----------------------------------------------------------------

@pytest.mark.parametrize("run", ["digits-2d", "mnist-conv"])
def test_export_onnx_agrees_with_the_checkpoint(run, tmp_path, assets_dir):
    src = assets_dir / run if (assets_dir / run).is_dir() else REPO / "assets" / run
    if not src.is_dir():
        pytest.skip(f"no {run} checkpoint")
    out = tmp_path / "onnx"
    result = _run_json(["export-onnx", str(src), str(out), "--json"])
    # 1e-5 relative to max(1, |value|), the export's own check: mnist-conv's logits reach ~100, where one float32
    # step is 7.6e-6 (1.5e-5 and 2.3e-5 absolute measured on two CPUs); latents and pixels agree to 1e-5 below
    assert result["max_scaled_diff"] <= 1e-5 and result["max_abs_diff"] <= 1e-4
    assert sorted(p.name for p in out.iterdir()) == ["decoder.onnx", "encoder.onnx", "vae.json"]
    from vae import load_model

    ours = load_model(src).eval()
    theirs = load_onnx(read_onnx_folder(out), "out")
    g = torch.Generator().manual_seed(5)
    x, z = torch.rand((8, *ours.config.image_shape), generator=g), torch.randn((8, ours.config.latent_dim), generator=g)
    with torch.inference_mode():
        for a, b in zip(ours.encode(x), theirs.encode(x)):
            assert (a - b).abs().max() <= 1e-5
        assert (ours.decode(z) - theirs.decode(z)).abs().max() <= 1e-5
    if run == "digits-2d":          # the exported pair scores like the checkpoint (same noise, same estimator)
        argv = ["--json", "--iwae-samples", "8", "--limit", "50", "--device", "cpu"]
        a = _run_json(["evaluate", str(src), *argv])
        b = _run_json(["evaluate", str(out), "--dataset", "digits", "--binarize", a["binarize"], *argv])
        assert abs(a["elbo"] - b["elbo"]) < 1e-4 and abs(a["iwae"] - b["iwae"]) < 1e-4


def test_export_onnx_of_outside_models(tmp_path):
    for fn in ("build_conv", "build_gaussian"):
        result = _run_json(["export-onnx", f"{SPEC}:{fn}", str(tmp_path / fn), "--json"])
        assert result["max_abs_diff"] <= 1e-5, fn
    m = load_onnx(read_onnx_folder(tmp_path / "build_gaussian"), "g")
    raw = m.decode_logits(torch.zeros(2, 4))
    assert raw.shape == (2, 2, 1, 28, 28)                   # mean and the broadcast log-sigma
    assert torch.allclose(raw[:, 1], torch.full_like(raw[:, 1], -1.5))


def test_export_onnx_float16_halves_the_decoder_within_one_grey_level(tmp_path):
    """--float16: decoder.onnx stores its weights as float16 (float32 z in, float32 logits out), is about half the
    bytes, passes the upload checks, and its decoded pixels stay within 1/255 of the float32 export's."""
    from vae.models.onnx_float16 import decode_pixels

    spec = f"{SPEC}:build_conv"
    full = _run_json(["export-onnx", spec, str(tmp_path / "f32"), "--json"])
    half = _run_json(["export-onnx", spec, str(tmp_path / "f16"), "--float16", "--json"])
    assert full["decoder_dtype"] == "float32" and half["decoder_dtype"] == "float16"
    assert half["files"]["decoder.onnx"] < 0.6 * full["files"]["decoder.onnx"]
    assert half["files"]["encoder.onnx"] == full["files"]["encoder.onnx"]
    assert 0 < half["float16_pixel_diff"] <= 1 / 255
    f32, f16 = read_onnx_folder(tmp_path / "f32"), read_onnx_folder(tmp_path / "f16")
    graph = onnx.load_from_string(f16["decoder.onnx"]).graph
    assert graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert any(t.data_type == TensorProto.FLOAT16 for t in graph.initializer)
    z = (np.random.default_rng(3).standard_normal((32, 6)) * 2).astype(np.float32)
    diff = np.abs(decode_pixels(f16["decoder.onnx"], z, "sigmoid") - decode_pixels(f32["decoder.onnx"], z, "sigmoid"))
    assert 0 < diff.max() <= 1 / 255
    model = load_onnx(f16, "f16")                          # what a hosted server accepts as an upload
    with torch.inference_mode():
        pixels = model.decode(torch.as_tensor(z)).reshape(32, -1).numpy()
    assert np.abs(pixels - decode_pixels(f32["decoder.onnx"], z, "sigmoid")).max() <= 1 / 255


def test_export_onnx_float16_is_refused_beyond_one_grey_level(tmp_path, capsys):
    """Weights whose float16 rounding moves a pixel by more than 1/255: --float16 refuses, naming the change."""
    (tmp_path / "sharp.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "import torch\n"
        "from tests.outside_vaes import build_mlp\n"
        "def build():\n"
        "    m = build_mlp()\n"
        "    with torch.no_grad():\n"
        "        m.fc4.weight.mul_(3000.0).add_(1e-3)\n"
        "    return m\n")
    assert main(["export-onnx", f"{tmp_path / 'sharp.py'}:build", str(tmp_path / "out"), "--float16"]) == 2
    err = capsys.readouterr().err
    assert "with float16 weights the decoder's pixels move by up to" in err and "export without --float16" in err


def test_size_caps_hold_for_files_and_zip_members(monkeypatch):
    monkeypatch.setenv("VAE_MAX_ONNX_MB", "1")
    big = decoder_bytes(d=D, weight=np.ones((D, 16), np.float32), extra_inits=[
        numpy_helper.from_array(np.zeros(300_000, np.float32), "padding")])       # 1.2 MB on disk
    with pytest.raises(ProtocolError, match=r"^u: decoder.onnx holds 1.1 MB; the cap is 1.0 MB"):
        load_onnx(pair(**{"decoder.onnx": big}), "u")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in pair(**{"decoder.onnx": big}).items():
            zf.writestr(name, data)
    with pytest.raises(ProtocolError, match=r"zip entry 'decoder.onnx' declares 1,20\d,\d{3} bytes, over the limit"):
        files_from_names([("bomb.zip", buf.getvalue())])
