"""What every `python -m vae` command shares: the one-line error, its exit status, --threads, loading a run."""

from __future__ import annotations

from pathlib import Path

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
