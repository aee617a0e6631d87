"""What every `python -m vae` command shares: the one-line error, its exit status, --threads, loading a run."""

from __future__ import annotations

from pathlib import Path

from ..dataset_names import DATASET_NAMES

EXIT_USAGE = 2


class CLIError(Exception):
    """An expected failure: printed as one line, exit status 2."""


def add_threads_flag(group) -> None:
    group.add_argument("--threads", type=int, default=None, metavar="N",
                       help="CPU threads for torch (torch.set_num_threads); 1 is often fastest for small models "
                            "on a busy machine (default: torch's choice, one per core)")


def apply_threads(args) -> None:
    if args.threads is not None:
        if args.threads < 1:
            raise CLIError(f"--threads must be >= 1, got {args.threads}")
        import torch
        torch.set_num_threads(args.threads)


def load_run(run: str, device=None):
    from ..checkpoint import load_model

    path = Path(run)
    if not path.exists():
        raise CLIError(f"no checkpoint at {run}: no such file or folder")
    return load_model(path, device=device)


def add_outside_flags(parser) -> None:
    """--weights and --dataset, for a RUN that names an outside model (file.py:function)."""
    parser.add_argument("--weights", default=None, metavar="W.safetensors",
                        help="an outside model's weights, loaded with load_state_dict(strict=True) "
                             "(default: as the model's function leaves them)")
    parser.add_argument("--dataset", default=None, metavar="NAME",
                        help=f"the data set an outside model is scored on ({', '.join(DATASET_NAMES)}); "
                             "a checkpoint records its own")


def load_model_arg(args, device):
    """The model RUN names: a checkpoint (folder or zip), an outside model (file.py:function) with
    --weights and --dataset, or an ONNX model (a folder or zip of encoder.onnx, decoder.onnx, vae.json) with
    --dataset. Raises CLIError / CheckpointError / ProtocolError (one line each)."""
    from ..models.outside import looks_like_spec

    weights, dataset = getattr(args, "weights", None), getattr(args, "dataset", None)
    if looks_like_spec(args.run):
        from ..models import load_outside

        if dataset is not None:
            if dataset not in DATASET_NAMES:
                raise CLIError(f"--dataset must be one of {', '.join(DATASET_NAMES)}, got {dataset!r}")
        return load_outside(args.run, weights=weights, device=device, dataset=dataset)
    from ..models.onnx_model import is_onnx_source

    if is_onnx_source(args.run):
        from ..models.onnx_model import load_onnx, read_onnx_folder, read_onnx_zip

        if weights is not None:
            raise CLIError(f"--weights is for outside Python models; {args.run} is an ONNX model, which holds "
                           "its weights")
        path = Path(args.run)
        files = read_onnx_folder(path) if path.is_dir() else read_onnx_zip(path.read_bytes(), where=path.name)
        return load_onnx(files, where=path.name, dataset=dataset)
    if weights is not None or dataset is not None:
        raise CLIError(f"--weights and --dataset are for outside models (file.py:function); {args.run} is a "
                       "checkpoint, which holds its weights and records its data set")
    return load_run(args.run, device=device)


def tqdm_progress(bar):
    """A progress(step, total, message) callback that moves a tqdm bar."""
    def progress(i, total, msg):
        bar.total = total
        bar.set_postfix_str(msg[:60], refresh=False)
        bar.update(i - bar.n)
    return progress
