"""The command line: `python -m vae train | evaluate | sample | sweep | project | export-onnx | gallery`.

    python -m vae train --dataset digits --hidden 64 --latent-dim 2 --epochs 20 --out runs/digits
    python -m vae evaluate runs/digits --iwae-samples 100
    python -m vae sample runs/digits --n 64 --out grid.png

Every expected failure (bad checkpoint, unknown data set, impossible model) prints one line,
"error: ...", on stderr and exits with status 2; no traceback.

The parser of each command and its run live in train_command.py, evaluate_command.py,
sample_command.py and sweep_and_factors.py; common.py holds the one-line error and --threads.
This module assembles the parser and runs a command (`main`).
"""

from __future__ import annotations

import argparse
import functools
import sys

from .common import EXIT_USAGE, CLIError, add_threads_flag, apply_threads, load_run
from .evaluate_command import add_evaluate_parser, cmd_evaluate, dataset_for
from .sample_command import add_sample_parser, cmd_sample, image_grid
from .train_command import add_train_parser, cmd_train, model_config_from_args, train_config_from_args

# the names these had when the command line was one module (tests, bench and vae.train.recipe use them)
_add_threads_flag = add_threads_flag
_apply_threads = apply_threads
_load_run = load_run
_dataset_for = dataset_for
_train_config_from_args = train_config_from_args
_model_config_from_args = model_config_from_args

__all__ = ["EXIT_USAGE", "CLIError", "build_parser", "cmd_evaluate", "cmd_sample", "cmd_train", "image_grid", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m vae", description="Train, evaluate and sample variational autoencoders.",
        epilog="Run `python -m vae COMMAND --help` for the options of each command.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_train_parser(sub)
    add_evaluate_parser(sub)
    add_sample_parser(sub)
    from .sweep_and_factors import add_sweep_parser
    add_sweep_parser(sub, add_threads_flag)
    from .project_command import add_project_parser
    add_project_parser(sub)
    from .onnx_command import add_export_onnx_parser
    add_export_onnx_parser(sub)
    from .gallery_command import add_gallery_parser
    add_gallery_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from ..checkpoint import CheckpointError
    from ..config import ConfigError
    from ..train import TrainingDiverged

    expected: tuple[type[BaseException], ...] = (CLIError, CheckpointError, ConfigError, TrainingDiverged,
                                                 FileNotFoundError, NotADirectoryError, PermissionError, ValueError)
    try:
        from ..data import DataError
        expected += (DataError,)
    except ImportError:
        pass
    from .sweep_and_factors import cmd_sweep
    sweep = functools.partial(cmd_sweep, train_config_from_args=train_config_from_args, error=CLIError,
                              model_config_from_args=model_config_from_args, apply_threads=apply_threads)
    from .gallery_command import cmd_gallery
    from .onnx_command import cmd_export_onnx
    from .project_command import cmd_project
    commands = {"train": cmd_train, "evaluate": cmd_evaluate, "sample": cmd_sample, "sweep": sweep,
                "project": cmd_project, "export-onnx": cmd_export_onnx, "gallery": cmd_gallery}
    try:
        return commands[args.command](args)
    except expected as e:
        msg = str(e).strip().replace("\n", " ")
        print(f"error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

