"""Every command of the README files' ```bash blocks is run here, run smaller, run by another test, or
listed as too long to run with what is checked instead (PLANS). A command with no plan fails the first
test, so none is silently skipped; a plan whose command left the READMEs fails it too.

Kinds of plan:
  RUN        run as written (in a scratch folder that sees assets/, results/, bench/ and ../shared)
  SMALLER    run with the listed edits (fewer epochs, images, samples), otherwise as written
  ELSEWHERE  run by the named test (with its own small data)
  LONG       hours, a network install or the whole suite: its arguments are parsed by the real parser,
             and a training recipe must build the configuration its checked-in checkpoint records
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shlex
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.readme_commands import REPO, inline_commands, readme_commands

MNIST_TRAIN = REPO.parent / "shared" / "datasets" / "mnist" / "train-images-idx3-ubyte.gz"
RUN, SMALLER, ELSEWHERE, LONG = "run", "smaller", "elsewhere", "long"

# command prefix -> (kind, why / what is checked, edits [(old, new)]; old "" appends new)
PLANS: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    # README.md: install and start
    "python3 -m pip install -r requirements.txt && python3 -m streamlit run app.py":
        (LONG, "a network install, then a server that runs until stopped: every pinned requirement is checked "
               "installed at its pin; the server is started by the hosted command below", []),
    "python3 -m pip install -r requirements-dev.txt && python3 -m pytest":
        (LONG, "the whole suite: the dev requirements are checked installed at their pins", []),
    "VAE_EXPLORER_HOSTED=1 python3 -m streamlit run app.py":
        (SMALLER, "on a free loopback port, stopped once healthy",
         [("--server.address 0.0.0.0", "--server.address 127.0.0.1"), ("--server.port 8501", "--server.port PORT"),
          ("", "--server.headless true")]),
    # README.md: the gallery's operator commands (a synopsis: brackets and placeholders filled in)
    "python -m vae gallery list": (SMALLER, "on a scratch gallery", [("[--dataset mnist] [--json]", "--dataset digits --json")]),
    "python -m vae gallery delete": (SMALLER, "the entry published", [("ID [ID ...]", "ID")]),
    "python -m vae gallery export": (SMALLER, "the entry published", [("--out DIR", "--out exported")]),
    "python -m vae gallery publish":
        (SMALLER, "digits-2d", [("RUN --name NAME [--note ..]", "assets/digits-2d --name d2 --note bundled")]),
    "python bench/gallery_publish.py": (SMALLER, "2 publishers of digits-2d", [("", "--n 2 --model assets/digits-2d")]),
    "python results/gallery/make_screenshots.py":
        (LONG, "publishes the six bundled models and drives Chromium for minutes: the script compiles; the page "
               "is tested by tests/e2e/test_gallery_page.py", []),
    # README.md: the command line in a few lines
    "python -m vae train --dataset mnist --data-dir ../shared/datasets/mnist --arch mlp --hidden 400":
        (SMALLER, "1 epoch of MNIST's first 2,000 training images (../mnist-small: the first 2,000 and 500 of the "
                  "real IDX files; runs/x records it, so the commands after it read it too)",
         [("--epochs 3", "--epochs 1"), ("--data-dir ../shared/datasets/mnist", "--data-dir ../mnist-small")]),
    "python -m vae train --resume runs/x": (SMALLER, "to epoch 2", [("--epochs 10", "--epochs 2")]),
    "python -m vae evaluate runs/x --iwae-samples 1000": (SMALLER, "10 images", [("", "--limit 10")]),
    "python -m vae sample runs/x": (RUN, "", []),
    "python -m torch.distributed.run --nproc_per_node 2 -m vae train --dataset digits":
        (ELSEWHERE, "tests/test_ddp.py (the same two-process run, 1 epoch, --standalone)", []),
    "python -m vae sweep --dataset shapes --latent-dim 8 --beta 1 4 16":
        (SMALLER, "1 epoch of 256 images", [("--epochs 40", "--epochs 1"), ("", "--n-train 256 --n-test 64")]),
    "python -m vae evaluate runs/shapes-beta/beta-4 --factors":
        (ELSEWHERE, "tests/test_cli_factors.py (evaluate --factors --json, with fewer points and votes)", []),
    # README.md: Explore your own VAE
    "python examples/my_vae.py": (ELSEWHERE, "tests/test_readme_example.py", []),
    "python -m vae evaluate examples/my_vae.py:build": (ELSEWHERE, "tests/test_readme_example.py", []),
    "python -m vae sample examples/my_vae.py:build": (ELSEWHERE, "tests/test_readme_example.py", []),
    "python -m streamlit run app.py -- --model examples/my_vae.py:build": (ELSEWHERE, "tests/test_readme_example.py", []),
    "python -m vae export-onnx examples/my_vae.py:build": (ELSEWHERE, "tests/test_readme_example.py", []),
    "python -m vae export-onnx runs/x my_onnx/": (RUN, "", []),
    "cd my_onnx && zip ../my_vae.zip": (RUN, "", []),
    # README.md: the shapes beta sweep and its bundled summary
    "python -m vae sweep --dataset shapes --hidden 256 128 --latent-dim 8 --epochs 40 --batch-size 128 --lr 1e-3 "
    "--seed 0 --device cpu --threads 1 --beta 1 2 4 8 16":
        (ELSEWHERE, "tests/test_sweep_reproducible.py (its plan is the bundled sweep.json; a point's first epochs "
                    "against its bundled curve; one whole point, slow)", []),
    "for b in 1 2 4 8 16; do python -m vae evaluate runs/shapes-beta/beta-$b --factors":
        (ELSEWHERE, "tests/test_sweep_reproducible.py (one whole point scored as the summary was)", []),
    "for b in 1 2 4 8 16; do cp runs/shapes-beta/beta-$b/metrics.jsonl":
        (ELSEWHERE, "tests/test_sweep_reproducible.py (every point's bundled curve, 40 epochs; the first compared)", []),
    "cp runs/shapes-beta/sweep.json assets/sweeps/shapes-beta/":
        (ELSEWHERE, "tests/test_sweep_reproducible.py (the bundled sweep.json is the recipe's plan)", []),
    # README.md: the objectives sweep and its bundled summary
    "python -m vae sweep --dataset shapes --hidden 256 128 --latent-dim 8 --epochs 40 --batch-size 128 --lr 1e-3 "
    "--seed 0 --device cpu --threads 1 --objective":
        (ELSEWHERE, "tests/test_sweep_reproducible.py (its plan is the bundled sweep.json; FactorVAE's first "
                    "epochs against its bundled curve)", []),
    "for r in objective-elbo objective-elbo-beta-8":
        (ELSEWHERE, "tests/test_sweep_reproducible.py (the bundled evaluations name their runs and protocol; "
                    "scoring one point is tested whole on the beta sweep, slow)", []),
    "cp runs/shapes-objectives/sweep.json": (ELSEWHERE, "tests/test_sweep_reproducible.py (the plan)", []),
    # assets/README.md: how each bundled model was made
    "python -m vae train --dataset mnist --data-dir ../shared/datasets/mnist --binarize dynamic --hidden 512 256 --latent-dim 2":
        (SMALLER, "its first epoch of 30 (constant learning rate) against the checkpoint's; builds the configuration "
                  "assets/mnist-2d records", [("--epochs 30", "--epochs 1"), ("--out assets/", "--out runs/bundled-")]),
    "python -m vae train --dataset mnist --data-dir ../shared/datasets/mnist --binarize dynamic --hidden 512 256 --latent-dim 16":
        (LONG, "43 min: builds the configuration assets/mnist-16d records", []),
    "python -m vae train --dataset mnist --data-dir ../shared/datasets/mnist --binarize dynamic --arch conv":
        (LONG, "2 h: builds the configuration results/mnist-conv-dynamic records", []),
    "python -c \"import torch; from safetensors.torch import load_file, save_file;":
        (RUN, "in the scratch folder: writes assets/mnist-conv/model.safetensors byte for byte", []),
    "python -m vae train --dataset shapes --hidden 256 128 --latent-dim 8 --beta 8":
        (SMALLER, "its first epoch of 40 against the checkpoint's; builds the configuration assets/shapes-beta records; "
                  "its curve is the bundled sweep's beta = 8 curve (tests/test_sweep_reproducible.py)",
         [("--epochs 40", "--epochs 1"), ("--out assets/", "--out runs/bundled-")]),
    "python -m vae train --dataset digits --hidden 256 128 --latent-dim 2 --epochs 200":
        (SMALLER, "its first epoch of 200 against the checkpoint's; builds the configuration assets/digits-2d records",
         [("--epochs 200", "--epochs 1"), ("--out assets/", "--out runs/bundled-")]),
    "python -m vae train --dataset shapes --hidden 256 128 --latent-dim 8 --epochs 150":
        (SMALLER, "its first epoch of 150 against the checkpoint's; builds the configuration assets/shapes-8d records",
         [("--epochs 150", "--epochs 1"), ("--out assets/", "--out runs/bundled-")]),
    "python -m vae evaluate assets/mnist-2d --json": (RUN, "", []),
    "python -m vae evaluate assets/mnist-2d --iwae-samples 100": (SMALLER, "200 images", [("", "--limit 200")]),
    "python -m vae.analysis.factor_table assets/shapes-beta": (RUN, "", []),
    "python -m vae train --dataset mnist --data-dir ../shared/datasets/mnist --binarize dynamic --hidden 128":
        (LONG, "10 min: builds the configuration assets/mnist-2d-small-iwae records", []),
    "python bench/posterior_width.py assets/mnist-2d-small assets/mnist-2d-small-iwae":
        (SMALLER, "2 images on a coarser grid", [("--n 20", "--n 2 --grid-size 41")]),
    # results/README.md
    "python -m vae evaluate results/mnist-mlp-dynamic": (SMALLER, "3 images", [("", "--limit 3")]),
    "python -m vae evaluate results/mnist-conv-dynamic": (SMALLER, "3 images", [("", "--limit 3")]),
    "python -m vae train --dataset mnist --data-dir ../shared/datasets/mnist --binarize dynamic --hidden 500 500":
        (LONG, "hours: parsed", []),
    "python -m vae train --resume runs/mnist-mlp --epochs 480": (LONG, "a leg of hours on runs/mnist-mlp: parsed", []),
    "python -m vae train --resume runs/mnist-mlp --epochs 620": (LONG, "a leg of hours on runs/mnist-mlp: parsed", []),
    "python -m vae train --dataset mnist --data-dir ../shared/datasets/mnist --binarize dynamic --arch conv --latent-dim 32 "
    "--hidden 512 --conv-channels 32 64 --batch-size 100 --epochs 1000":
        (LONG, "hours: parsed", []),
    "python -m vae train --resume runs/mnist-conv": (LONG, "a leg of hours on runs/mnist-conv: parsed", []),
    "python -m vae train --dataset mnist --data-dir ../shared/datasets/mnist --binarize dynamic --hidden 200 200":
        (LONG, "3,280 epochs: builds the configuration results/mnist-burda-vae records", []),
    "python -m vae evaluate results/mnist-burda-vae": (SMALLER, "3 images", [("", "--limit 3")]),
    "nice -n 15 python -m vae train --resume results/mnist-burda-vae": (LONG, "continues a run of days: parsed", []),
    # vae/ui/components/latent_control/ort/README.md
    "npm --prefix vae/ui/components/latent_control/ort/frontend ci":
        (LONG, "a network install (npm ci from the npm registry) and a Node 20 build: the bundle it writes is checked "
               "present and package.json's build script is the README's", []),
}

# LONG training recipes -> the checked-in checkpoint whose recorded configuration they must build
RECIPE_RECORDS = {
    "--out assets/mnist-2d": "assets/mnist-2d", "--out assets/mnist-16d": "assets/mnist-16d",
    "--out results/mnist-conv-dynamic": "results/mnist-conv-dynamic", "--out assets/shapes-beta": "assets/shapes-beta",
    "--out assets/digits-2d": "assets/digits-2d", "--out assets/shapes-8d": "assets/shapes-8d",
    "--out assets/mnist-2d-small-iwae": "assets/mnist-2d-small-iwae",
    "--out results/mnist-burda-vae": "results/mnist-burda-vae",
}
IMAGE_SHAPES = {"mnist": (1, 28, 28), "shapes": (1, 32, 32), "digits": (1, 8, 8)}


def plan_of(command: str) -> tuple[str, str, tuple[str, str, list]]:
    """(prefix, plan) of the one plan whose prefix starts `command`; AssertionError when not exactly one."""
    found = [(p, plan) for p, plan in PLANS.items() if command.startswith(p)]
    found = [f for f in found if not any(o[0] != f[0] and o[0].startswith(f[0]) for o in found)]   # longest wins
    assert len(found) == 1, f"{len(found)} plans for README command: {command}"
    return found[0]


def edited(prefix: str) -> str:
    """The README command with `prefix`, with its plan's edits applied."""
    [command] = {c for _, c in readme_commands() if plan_of(c)[0] == prefix}
    for old, new in PLANS[prefix][2]:
        assert old == "" or old in command, f"edit {old!r} no longer applies to: {command}"
        command = f"{command} {new}" if old == "" else command.replace(old, new)
    return command


def test_every_readme_command_has_exactly_one_plan_and_every_plan_a_command():
    commands = readme_commands()
    assert len(commands) >= 40
    used = {plan_of(c)[0] for _, c in commands}
    assert set(PLANS) - used == set(), "plans for commands no longer in a README"
    for prefix, (kind, why, edits) in PLANS.items():
        assert kind in (RUN, SMALLER, ELSEWHERE, LONG)
        assert (kind == SMALLER) == bool(edits), prefix
        assert kind == RUN or why, f"say why {prefix} is not run as written"
        if kind == ELSEWHERE:
            assert (REPO / why.split()[0]).is_file(), why


def _vae_argv(command: str) -> list[str] | None:
    argv = shlex.split(command.split(" > ")[0])
    if argv[:2] == ["nice", "-n"]:
        argv = argv[3:]
    if argv[:3] in (["python", "-m", "vae"], ["python3", "-m", "vae"]):
        return argv[3:]
    return None


def test_every_vae_command_parses_and_builds_its_configuration():
    from vae.cli import build_parser
    from vae.cli.train_command import model_config_from_args, train_config_from_args

    parser = build_parser()
    checked = 0
    for _, command in readme_commands():
        prefix, (kind, _, edits) = plan_of(command)
        argv = _vae_argv(edited(prefix) if kind == SMALLER else command)
        if argv is None:
            continue
        args = parser.parse_args(argv)
        if args.command == "train" and not args.resume:
            tc = train_config_from_args(args)
            model_config_from_args(args, IMAGE_SHAPES[tc.dataset])
        checked += 1
    assert checked >= 30


@pytest.mark.parametrize("out, record", sorted(RECIPE_RECORDS.items()))
def test_each_training_recipe_builds_the_configuration_its_checkpoint_records(out, record):
    """A README recipe and the checked-in checkpoint it says it made agree on every model and training
    setting (the device aside: a run records the device it was given)."""
    from vae.cli import build_parser

    [command] = [c for _, c in readme_commands() if c.endswith(out) or f"{out} " in c]
    _assert_recipe_builds_its_record(build_parser().parse_args(_vae_argv(command)), record)


def _assert_recipe_builds_its_record(args, record: str) -> None:
    """The parsed `train` recipe and the checked-in checkpoint `record` agree on every model and training
    setting (the device aside; the epochs too for a bundled asset, which is trained in one go)."""
    from vae.cli.train_command import model_config_from_args, train_config_from_args
    from vae.config import ModelConfig, TrainConfig

    train = train_config_from_args(args).to_dict()
    model = model_config_from_args(args, IMAGE_SHAPES[train["dataset"]]).to_dict()
    raw = json.loads((REPO / record / "config.json").read_text())      # older records: defaults filled in
    recorded = {"model": ModelConfig.from_dict(raw["model"]).to_dict(), "train": TrainConfig.from_dict(raw["train"]).to_dict()}
    assert {k: v for k, v in model.items() if recorded["model"].get(k) != v} == {}, record
    for key, value in train.items():
        if key not in ("device", "epochs"):
            assert recorded["train"][key] == value, f"{record}: {key} recorded {recorded['train'][key]!r}, recipe {value!r}"
    if record.startswith("assets/"):
        assert recorded["train"]["epochs"] == train["epochs"]


@pytest.mark.parametrize("requirements", ["requirements.txt", "requirements-dev.txt"])
def test_the_install_commands_requirements_are_installed_at_their_pins(requirements):
    for line in (REPO / requirements).read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-r"):
            continue
        if "==" in line:
            name, pin = line.split("==")
            assert importlib.metadata.version(name.strip()).split("+")[0] == pin.strip(), name
        else:
            importlib.metadata.version(line.split(">")[0].split("<")[0].split("[")[0].strip())


def test_the_ort_bundle_the_rebuild_command_writes_is_there():
    ort = REPO / "vae/ui/components/latent_control/ort"
    assert json.loads((ort / "frontend/package.json").read_text())["scripts"]["build"] == "node build.mjs"
    assert "../dist" in (ort / "frontend/build.mjs").read_text()
    for name in ("ort.wasm.js", "ort-wasm-simd-threaded.wasm"):
        assert (ort / "dist" / name).stat().st_size > 10_000, name


# ------------------------------------------------------------------------------------------ inline commands
# A code span in the prose or a table ("measured with `python -m vae evaluate RUN ...`", a leg's command) is
# not run: most are the legs of hours-long trainings or minutes-long benches whose bash-block twins are run or
# planned above. Each must name an entry point that exists and runs as a program (a module with a __main__
# block: `python -m vae.analysis.factors RUN` printed nothing), with options that entry point accepts; a
# `python -m vae` command must parse, and a training recipe whose --out is a checked-in run must build the
# configuration that run records. Placeholders are filled in first; tools (pytest, streamlit, torchrun) skipped.

PLACEHOLDERS = [("<main checkout>", "."), ("assets/NAME", "assets/digits-2d"), ("runs/NAME", "runs/x"),
                ("RUN.xml", "out.xml")]
PLACEHOLDER_WORDS = {"RUN": "assets/digits-2d", "OUT": "out", "K": "100", "N": "2", "DIR": "."}
TOOLS = (["pytest"], ["python3", "-m", "pytest"], ["streamlit"], ["torchrun"], ["npm"])


def _inline_argv(command: str) -> list[str]:
    for old, new in PLACEHOLDERS:
        command = command.replace(old, new)
    argv = [PLACEHOLDER_WORDS.get(a, a) for a in shlex.split(command)]
    while argv and "=" in argv[0] and argv[0].split("=")[0].isupper():
        argv = argv[1:]                                             # OMP_NUM_THREADS=2 ...
    if argv[:2] == ["nice", "-n"]:
        argv = argv[3:]
    return argv


def _options(argv: list[str]) -> list[str]:
    return [a.split("=")[0] for a in argv if a.startswith("--")]


def _subparser(parser, name: str):
    import argparse

    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices[name]


def _check_program(path: Path, argv: list[str], command: str) -> None:
    """A script or module run as a program: it exists, has a __main__ block, knows each --option it is given,
    and every repository path it is given exists."""
    assert path.is_file(), f"no {path.relative_to(REPO)} for: {command}"
    source = path.read_text()
    assert '__name__ == "__main__"' in source, f"{path.relative_to(REPO)} does nothing when run: {command}"
    for option in _options(argv):
        assert f'"{option}"' in source, f"{path.relative_to(REPO)} has no {option}: {command}"
    for a in argv:
        if a.startswith(("assets/", "results/")) and "*" not in a:
            assert (REPO / a).exists(), f"{a} is not in the repository: {command}"


def test_every_inline_command_names_a_program_that_runs_with_its_options(capsys):
    from vae.cli import build_parser
    from vae.cli.train_command import model_config_from_args, train_config_from_args

    parser = build_parser()
    inline = inline_commands()
    assert len(inline) >= 50
    checked = 0
    for name, command in inline:
        argv = _inline_argv(command)
        if any(argv[:len(t)] == t for t in TOOLS):
            continue
        assert argv[0] in ("python", "python3"), f"{name}: {command}"
        if argv[1:3] == ["-m", "vae"]:
            rest = argv[3:]
            if not rest or rest[0] == "COMMAND" or "..." in rest:
                continue                                             # the program named, not a command
            sub = _subparser(parser, rest[0])
            for option in _options(rest):
                assert option in sub._option_string_actions, f"{name}: python -m vae {rest[0]} has no {option}: {command}"
            if len(rest) == 1 or (len(rest) == 2 and rest[1].startswith("--")):
                continue                                             # `python -m vae evaluate --factors`: a reference
            try:
                args = parser.parse_args(rest)
            except SystemExit:
                pytest.fail(f"{name}: does not parse: {command}\n{capsys.readouterr().err}")
            for path in (getattr(args, "resume", None), getattr(args, "run", None)):
                if path and str(path).startswith(("assets/", "results/")):
                    assert (REPO / path).exists(), f"{name}: {path} is not in the repository: {command}"
            if args.command == "train" and not args.resume:
                train = train_config_from_args(args)
                model_config_from_args(args, IMAGE_SHAPES[train.dataset])
                if args.out and (REPO / args.out / "config.json").is_file():
                    _assert_recipe_builds_its_record(args, args.out)
        elif argv[1] == "-m":
            _check_program(REPO / (argv[2].replace(".", "/") + ".py"), argv[3:], command)
        else:
            _check_program(REPO / argv[1], argv[2:], command)
        checked += 1
    assert checked >= 40


def test_the_inline_check_catches_a_module_that_does_nothing_or_an_unknown_option():
    with pytest.raises(AssertionError, match="does nothing when run"):
        _check_program(REPO / "vae/analysis/compare.py", ["assets/shapes-beta"], "python -m vae.analysis.compare RUN")
    with pytest.raises(AssertionError, match="has no --fast"):
        _check_program(REPO / "bench/recipe_cost.py", ["--fast"], "python bench/recipe_cost.py --fast")


def test_the_screenshot_script_compiles():
    compile((REPO / "results/gallery/make_screenshots.py").read_text(), "make_screenshots.py", "exec")


# ------------------------------------------------------------------------------------------ running them

@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """A folder laid out like the repository root for the commands: assets/, results/, bench/, examples/
    seen through links (assets/mnist-conv a real folder, as one command writes into it), ../shared beside it."""
    root = tmp_path_factory.mktemp("readme")
    work = root / "work"
    (work / "assets" / "mnist-conv").mkdir(parents=True)
    for p in (REPO / "assets").iterdir():
        if p.name != "mnist-conv":
            (work / "assets" / p.name).symlink_to(p)
    for p in (REPO / "assets" / "mnist-conv").iterdir():
        if p.name != "model.safetensors":
            (work / "assets" / "mnist-conv" / p.name).symlink_to(p)
    for name in ("results", "bench", "examples"):
        (work / name).symlink_to(REPO / name)
    if (REPO.parent / "shared").is_dir():
        (root / "shared").symlink_to(REPO.parent / "shared")
    if MNIST_TRAIN.is_file():               # the README's quick start, run on the first 2,000 training images
        from vae.data.idx import read_idx, write_idx

        (root / "mnist-small").mkdir()
        for name, n in (("train-images-idx3-ubyte.gz", 2000), ("train-labels-idx1-ubyte.gz", 2000),
                        ("t10k-images-idx3-ubyte.gz", 500), ("t10k-labels-idx1-ubyte.gz", 500)):
            write_idx(read_idx(MNIST_TRAIN.parent / name)[:n], root / "mnist-small" / name)
    return work


# a `python -m vae ...` command with no shell syntax: run by vae.cli.main in this process (see sh)
_IN_PROCESS = re.compile(r"^python -m vae (?![^\n]*[;&|<>$`])")


def sh(command: str, cwd: Path, timeout: int = 600, **env) -> str:
    """Run a README command in `cwd` with `env` added; its stdout. A `python -m vae ...` command without shell
    syntax is what `python -m vae` runs (vae/__main__.py: sys.exit(vae.cli.main())) with the command's own
    words, in this process on one torch thread (as OMP_NUM_THREADS=1): a new interpreter costs 2-4 CPU s of
    importing torch. Anything else runs in bash."""
    if _IN_PROCESS.match(command):
        return _vae_in_process(shlex.split(command)[3:], cwd, env)
    environment = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **env}
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{command}\n{done.stdout[-1500:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _vae_in_process(argv: list[str], cwd: Path, env: dict) -> str:
    import contextlib
    import io
    from unittest import mock

    import torch

    from vae.cli import main

    out, err = io.StringIO(), io.StringIO()
    here, threads = Path.cwd(), torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        os.chdir(cwd)
        with mock.patch.dict(os.environ, env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        os.chdir(here)
        torch.set_num_threads(threads)
    assert code == 0, f"python -m vae {shlex.join(argv)}\n{out.getvalue()[-1500:]}\n{err.getvalue()[-3000:]}"
    return out.getvalue()


@pytest.mark.slow
@pytest.mark.skipif(not MNIST_TRAIN.is_file(), reason="no MNIST training split in ../shared/datasets/mnist")
def test_the_command_line_block_runs(scratch):
    """README's command line in a few lines: train, resume, evaluate, sample, export, zip; the sweep."""
    sh(edited("python -m vae train --dataset mnist --data-dir ../shared/datasets/mnist --arch mlp --hidden 400"), scratch)
    sh(edited("python -m vae train --resume runs/x"), scratch)
    assert json.loads((scratch / "runs/x/config.json").read_text())["state"]["epoch"] == 2
    out = json.loads(sh(edited("python -m vae evaluate runs/x --iwae-samples 1000"), scratch))
    assert out["n"] == 10 and out["k"] == 1000 and out["elbo"] <= out["iwae"] < 0
    sh(edited("python -m vae sample runs/x"), scratch)
    assert (scratch / "grid.png").stat().st_size > 1000
    sh(edited("python -m vae export-onnx runs/x my_onnx/"), scratch)
    sh(edited("cd my_onnx && zip ../my_vae.zip"), scratch)
    assert (scratch / "my_vae.zip").is_file()
    sh(edited("python -m vae sweep --dataset shapes --latent-dim 8 --beta 1 4 16"), scratch)
    assert json.loads((scratch / "runs/shapes-beta/beta-4/config.json").read_text())["state"]["status"] == "finished"


@pytest.mark.slow
def test_the_assets_readme_commands_run(scratch):
    out = json.loads(sh(edited("python -m vae evaluate assets/mnist-2d --json"), scratch))
    assert out["n"] == 10000 and round(out["elbo"], 2) == -139.13          # the table's figure
    out = json.loads(sh(edited("python -m vae evaluate assets/mnist-2d --iwae-samples 100"), scratch))
    assert out["n"] == 200 and out["k"] == 100
    table = sh(edited("python -m vae.analysis.factor_table assets/shapes-beta"), scratch)
    assert "| dim |" in table and "active of 8" in table
    prefix = "python -c \"import torch; from safetensors.torch import load_file, save_file;"
    sh(edited(prefix), scratch)
    assert (scratch / "assets/mnist-conv/model.safetensors").read_bytes() == \
        (REPO / "assets/mnist-conv/model.safetensors").read_bytes()


# bundled recipes run for their first epoch (a constant learning rate, so the same steps as the whole run's first)
FIRST_EPOCH_RECIPES = ["digits-2d", "shapes-8d", "shapes-beta", "mnist-2d"]


@pytest.mark.slow
@pytest.mark.parametrize("name", FIRST_EPOCH_RECIPES)
def test_a_bundled_models_recipe_trains_its_first_epoch_as_the_checkpoint_did(name, scratch):
    """assets/README's recipe, cut to one epoch and written to runs/bundled-NAME (runs/shapes-beta is the README
    sweep's folder in the same scratch): its first epoch's training loss is the
    checkpoint's own to 1e-5 (bit for bit on the machine that trained it; the processor moves the last digits,
    tests/test_sweep_reproducible.py) and its test loss to 1e-3."""
    [prefix] = {plan_of(c)[0] for _, c in readme_commands() if c.endswith(f"--out assets/{name}")}
    if "mnist" in name and not MNIST_TRAIN.is_file():
        pytest.skip("no MNIST training split in ../shared/datasets/mnist")
    command = edited(prefix)
    assert command.endswith(f"--out runs/bundled-{name}") and " --epochs 1 " in command
    sh(command, scratch)
    [got] = [json.loads(line) for line in (scratch / "runs" / f"bundled-{name}" / "metrics.jsonl").read_text().splitlines()]
    want = json.loads((REPO / "assets" / name / "metrics.jsonl").read_text().splitlines()[0])
    assert got["epoch"] == want["epoch"] == 1 and got["step"] == want["step"]
    assert got["train_loss"] == pytest.approx(want["train_loss"], rel=1e-5)
    assert got["test_loss"] == pytest.approx(want["test_loss"], rel=1e-3)


@pytest.mark.slow
@pytest.mark.skipif(not MNIST_TRAIN.is_file(), reason="no MNIST in ../shared/datasets/mnist")
def test_the_posterior_width_bench_runs(scratch):
    out = sh(edited("python bench/posterior_width.py assets/mnist-2d-small assets/mnist-2d-small-iwae"), scratch)
    assert "mnist-2d-small-iwae" in out


@pytest.mark.slow
@pytest.mark.skipif(not (REPO.parent / "shared" / "datasets" / "mnist").is_dir(), reason="no ../shared/datasets/mnist")
def test_the_results_readme_evaluations_run(scratch):
    for prefix in ("python -m vae evaluate results/mnist-mlp-dynamic", "python -m vae evaluate results/mnist-conv-dynamic",
                   "python -m vae evaluate results/mnist-burda-vae"):
        out = json.loads(sh(edited(prefix), scratch))
        assert out["n"] == 3 and out["elbo"] <= out["iwae"] < 0, prefix


@pytest.mark.slow
def test_the_gallery_commands_run(scratch, tmp_path):
    env = {"VAE_GALLERY_DIR": str(tmp_path / "gallery")}
    assert "published" in sh(edited("python -m vae gallery publish"), scratch, **env)
    [entry] = [json.loads(line) for line in sh(edited("python -m vae gallery list"), scratch, **env).splitlines()]
    sh(edited("python -m vae gallery export").replace(" ID ", f" {entry['id']} "), scratch, **env)
    assert (scratch / "exported" / "model.safetensors").is_file()
    sh(edited("python -m vae gallery delete").replace(" ID", f" {entry['id']}"), scratch, **env)
    assert sh("python -m vae gallery list --json", scratch, **env).strip() == ""
    assert "| wall s |" in sh(edited("python bench/gallery_publish.py"), scratch)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_hosted_server_command_serves_the_app():
    command = edited("VAE_EXPLORER_HOSTED=1 python3 -m streamlit run app.py").replace("PORT", str(port := _free_port()))
    env = {**os.environ, "VAE_WARMUP": "0", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(["bash", "-c", f"exec env {command}"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"the server exited with {proc.returncode}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server did not become healthy in 120 s"
                time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
