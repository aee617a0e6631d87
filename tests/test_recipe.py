"""train_command: a model's recipe as `python -m vae train ...`; parsing it back gives the same configs."""

import shlex

import pytest

from vae.cli import _model_config_from_args, _train_config_from_args, build_parser
from vae.config import ModelConfig, TrainConfig
from vae.train.recipe import train_command, train_command_args

CASES = [
    (ModelConfig(image_size=8, latent_dim=2, hidden=(256, 128)),
     TrainConfig(dataset="digits", epochs=200, batch_size=64, lr=1e-3)),
    (ModelConfig(arch="conv", image_size=28, latent_dim=32, hidden=(512,), conv_channels=(32, 64), activation="tanh"),
     TrainConfig(dataset="mnist", data_dir="/data/my mnist", epochs=150, batch_size=100, lr=3e-4, binarize="dynamic",
                 lr_schedule="cosine", lr_min=1e-5, lr_decay_start=6, beta=4.0, warmup=10, seed=7, device="cpu")),
    (ModelConfig(channels=1, image_size=32, latent_dim=10, hidden=(400, 200, 100), likelihood="gaussian"),
     TrainConfig(dataset="shapes", epochs=3, lr=0.0025, beta=0.5, lr_schedule="exponential", lr_min=2.5e-5,
                 extra={"n_train": 5000, "n_test": 500})),
    (ModelConfig(image_size=16, latent_dim=5, hidden=(64,)),
     TrainConfig(dataset="fashion-mnist", epochs=1, binarize="static", extra={"image_size": 16})),
]


@pytest.mark.parametrize("mc,tc", CASES)
def test_the_command_parses_back_to_the_same_configs(mc, tc):
    line = train_command(mc, tc, out="runs/x")
    argv = shlex.split(line)
    assert argv[:4] == ["python", "-m", "vae", "train"]
    args = build_parser().parse_args(argv[3:])
    assert args.out == "runs/x"
    assert _train_config_from_args(args) == tc
    assert _model_config_from_args(args, mc.image_shape) == mc


def test_a_recipe_the_command_line_cannot_express_is_refused():
    with pytest.raises(ValueError, match="sigma"):
        train_command_args(ModelConfig(likelihood="gaussian", gaussian_sigma=None), TrainConfig())
    with pytest.raises(ValueError, match="no command-line flag"):
        train_command_args(ModelConfig(), TrainConfig(extra={"colour": 1}))


def test_floats_are_written_exactly():
    args = train_command_args(ModelConfig(), TrainConfig(lr=1e-3, beta=0.25))
    assert args[args.index("--lr") + 1] == "0.001" and args[args.index("--beta") + 1] == "0.25"
    assert "--lr-schedule" not in args          # the constant default needs no schedule flags
