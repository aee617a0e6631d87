"""The shape of the code, read from its imports: no import loop inside `vae/`, no import that runs
back up a floor, and Streamlit (or `vae.ui`) imported nowhere in `vae/` outside `vae/ui/`.

Every import counts, at module level or inside a function: a lazy import hides a loop from Python,
not from a reader. `from package import name` counts as an import of the submodule when `name` is
one, else of the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

VAE = Path(__file__).resolve().parents[1] / "vae"

# Floors, top first: a module may import from its own floor (without a loop) or from any floor below.
# A new top-level module or package of vae/ must be given a floor here.
FLOORS: list[set[str]] = [
    {"vae.ui"},                                   # Streamlit glue
    {"vae.cli", "vae.__main__"},                  # the command line
    {"vae.train", "vae.gallery"},                 # the Trainer, jobs, sweeps; published models
    {"vae.analysis"},                             # what is computed from a trained model
    {"vae.checkpoint", "vae.checkpoint_format", "vae.browser_decoder", "vae.browser_weights", "vae.browser_onnx", "vae.imageio", "vae.sweep_format",
     "vae.models"},                               # files and formats; outside models (protocol, ONNX)
    {"vae.model"},                                # the VAE
    {"vae.objectives", "vae.objectives_tc"},      # ELBO, IWAE and their named output; beta-TCVAE
    {"vae.densities", "vae.data"},                # log-densities; data sets
    {"vae.safeio", "vae.config", "vae.device", "vae.dims", "vae.dataset_names",
     "vae.objective_specs"},                      # untrusted input, configs, device, names (data sets, objectives)
]
FACADE = "vae"   # vae/__init__.py re-exports the library's front door; nothing inside vae/ imports it


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for f in VAE.rglob("*.py"):
        parts = list(f.relative_to(VAE.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (f, is_pkg)
    return out


def _imports(name: str, path: Path, is_pkg: bool, modules) -> set[str]:
    """Every module of `modules` (and any outside name, such as "streamlit") that `name` imports."""
    package = name if is_pkg else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in modules]
            found.update(subs)
            if len(subs) < len(node.names):
                found.add(mod)
    found.discard(name)
    return found


def _graph():
    modules = _modules()
    return modules, {m: _imports(m, f, is_pkg, modules) for m, (f, is_pkg) in modules.items()}


def _group(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _floor(group: str) -> int | None:
    return next((i for i, floor in enumerate(FLOORS) if group in floor), None)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each a loop of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in edges:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_loop_inside_vae():
    _, edges = _graph()
    assert _cycles(edges) == []


def test_cycle_finder_finds_a_loop():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_part_of_vae_has_a_floor():
    modules, _ = _graph()
    groups = {_group(m) for m in modules} - {FACADE}
    assert sorted(g for g in groups if _floor(g) is None) == []


def test_imports_run_down_the_floors():
    _, edges = _graph()
    upward = []
    for m, targets in edges.items():
        src = _group(m)
        for t in targets:
            dst = _group(t)
            if not t.startswith("vae") or src == dst or src == FACADE:
                continue
            if dst == FACADE:
                upward.append(f"{m} imports the package facade `vae`")
            elif _floor(dst) is not None and _floor(src) is not None and _floor(dst) < _floor(src):
                upward.append(f"{m} -> {t}")
    assert sorted(upward) == []


def test_streamlit_and_vae_ui_only_inside_vae_ui():
    _, edges = _graph()
    leaks = sorted(f"{m} -> {t}" for m, targets in edges.items() if not (m == "vae.ui" or m.startswith("vae.ui."))
                   for t in targets if t.split(".")[0] == "streamlit" or t == "vae.ui" or t.startswith("vae.ui."))
    assert leaks == []
