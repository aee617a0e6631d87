"""A trained model's recipe as the equivalent command line: `python -m vae train ...`.

    train_command(model_config, train_config, out="runs/x")
    -> "python -m vae train --dataset digits --arch mlp --hidden 256 128 --latent-dim 2 ... --out runs/x"

Parsing the arguments back with `vae.cli.build_parser()` gives the same ModelConfig and TrainConfig
(tests/test_recipe.py), so a model trained in the app can be reproduced from a terminal.
"""

from __future__ import annotations

import shlex

from vae.config import ModelConfig, TrainConfig
from vae.objective_specs import OBJECTIVE_SPECS

# TrainConfig.extra keys that are dataset options with a flag of their own
_EXTRA_FLAGS = {"image_size": "--image-size", "n_train": "--n-train", "n_test": "--n-test"}


def _num(v: float) -> str:
    """A float as the shortest text that parses back to the same float (1e-3 -> '0.001')."""
    v = float(v)
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


def _option_text(v) -> list[str]:
    """A TrainConfig value as command-line words: 5 -> ['5'], 1e-4 -> ['0.0001'], (256, 256) -> ['256', '256']."""
    if isinstance(v, (tuple, list)):
        return [str(x) for x in v]
    return [str(v) if isinstance(v, int) else _num(v)]


def train_command_args(model_config: ModelConfig, train_config: TrainConfig, out: str | None = None) -> list[str]:
    """The arguments after `python -m vae train` that rebuild these configs (every model and recipe field
    spelled out, so a change of the CLI's defaults cannot change the recipe). Raises ValueError for a
    config the command line cannot express (a learned Gaussian sigma, an unknown dataset option)."""
    mc, tc = model_config, train_config
    if mc.likelihood == "gaussian" and mc.gaussian_sigma != ModelConfig().gaussian_sigma:
        raise ValueError(f"the command line trains a Gaussian p(x|z) with sigma {ModelConfig().gaussian_sigma} "
                         f"only, this model has {mc.gaussian_sigma}")
    unknown = sorted(set(tc.extra) - set(_EXTRA_FLAGS))
    if unknown:
        raise ValueError(f"dataset option(s) {unknown} have no command-line flag")
    a = ["--dataset", tc.dataset]
    if tc.data_dir:
        a += ["--data-dir", str(tc.data_dir)]
    for key, flag in _EXTRA_FLAGS.items():
        if key in tc.extra:
            a += [flag, str(int(tc.extra[key]))]
    a += ["--binarize", tc.binarize, "--arch", mc.arch, "--hidden", *map(str, mc.hidden),
          "--latent-dim", str(mc.latent_dim)]
    if mc.arch == "conv":
        a += ["--conv-channels", *map(str, mc.conv_channels)]
    a += ["--activation", mc.activation, "--likelihood", mc.likelihood,
          "--epochs", str(tc.epochs), "--batch-size", str(tc.batch_size), "--lr", _num(tc.lr)]
    d = TrainConfig()
    if tc.lr_schedule != d.lr_schedule or tc.lr_min != d.lr_min or tc.lr_decay_start != d.lr_decay_start:
        a += ["--lr-schedule", tc.lr_schedule, "--lr-min", _num(tc.lr_min), "--lr-decay-start", str(tc.lr_decay_start)]
    a += ["--beta", _num(tc.beta), "--warmup", str(tc.warmup), "--seed", str(tc.seed)]
    if tc.objective != d.objective:
        a += ["--objective", tc.objective]
    for option in OBJECTIVE_SPECS[tc.objective].options:     # the objective's own settings: --k, --gamma, ...
        a += [f"--{option.replace('_', '-')}", *_option_text(getattr(tc, option))]
    if tc.device and tc.device != "auto":
        a += ["--device", tc.device]
    if out:
        a += ["--out", str(out)]
    return a


def train_command(model_config: ModelConfig, train_config: TrainConfig, out: str | None = None) -> str:
    """`python -m vae train ...` as one shell-quoted line (see `train_command_args`)."""
    return shlex.join(["python", "-m", "vae", "train", *train_command_args(model_config, train_config, out)])
