"""`python -m vae export-onnx RUN OUT`: a model as encoder.onnx, decoder.onnx and vae.json (vae/models/onnx_export)."""

from __future__ import annotations

import json

from .common import CLIError, add_outside_flags, add_threads_flag, apply_threads, load_model_arg

TOLERANCE = 1e-5      # largest |onnxruntime - torch| / max(1, |torch|) accepted on the probe batch
PIXEL_TOLERANCE = 1 / 255   # --float16: largest change of a decoded pixel (in [0, 1]) accepted


def add_export_onnx_parser(sub) -> None:
    """Register `export-onnx` on the subparsers `sub` of `python -m vae`."""
    p = sub.add_parser(
        "export-onnx", help="export a model to ONNX (encoder.onnx, decoder.onnx, vae.json)",
        description="Write the encoder and decoder as ONNX graphs (opset 17, dynamic batch axis) and vae.json "
                    "(latent_dim, image_shape, likelihood) into OUT, then run them with onnxruntime and check "
                    f"they agree with the model to {TOLERANCE:g}. The folder, zipped, is what a hosted "
                    "explorer accepts as an upload.")
    p.add_argument("run", metavar="RUN", help="checkpoint folder or .zip, or an outside model file.py:function")
    p.add_argument("out", metavar="OUT", help="folder to write the three files into (created)")
    p.add_argument("--float16", action="store_true",
                   help="store decoder.onnx's weights as float16 (about half the bytes; float32 input, output and "
                        "arithmetic); refused unless every decoded pixel of 64 prior points stays within 1/255")
    add_outside_flags(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_threads_flag(p)


def cmd_export_onnx(args) -> int:
    try:
        from ..models.onnx_export import export_onnx
    except ImportError as e:
        raise CLIError(f"export-onnx needs the onnx and onnxruntime packages (pip install -r requirements.txt): {e}") \
            from None
    apply_threads(args)
    model = load_model_arg(args, "cpu")
    result = export_onnx(model, args.out, float16=args.float16)
    if result["max_scaled_diff"] > TOLERANCE:
        raise CLIError(f"the exported graphs differ from the model by {result['max_scaled_diff']:.3g} (relative to "
                       f"max(1, |value|); more than {TOLERANCE:g}); files left in {args.out}")
    if result.get("float16_pixel_diff", 0.0) > PIXEL_TOLERANCE:
        raise CLIError(f"with float16 weights the decoder's pixels move by up to {result['float16_pixel_diff']:.3g} "
                       f"(more than one grey level, 1/255); export without --float16. Files left in {args.out}")
    if args.json:
        print(json.dumps(result))
    else:
        sizes = ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in result["files"].items())
        print(f"wrote {sizes} to {args.out}; onnxruntime agrees with the model to {result['max_abs_diff']:.2g} "
              f"(absolute), {result['max_scaled_diff']:.2g} (relative to max(1, |value|))")
        if "float16_pixel_diff" in result:
            print(f"decoder.onnx weights as {result['decoder_dtype']}: decoded pixels within "
                  f"{result['float16_pixel_diff'] * 255:.3f}/255 of the float32 graph's")
    return 0
