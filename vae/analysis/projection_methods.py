"""The projection methods a map can use, in one registry: the one place a new method is added.

    from vae.analysis.projection_methods import PROJECTIONS, projection_method
    m = projection_method("tsne")
    proj = m.fit(mu, 2, seed=0, progress=None, threads=None, perplexity=30.0)   # Projection, embedding (N, 2)
    m.describe(proj)                                                          # "t-SNE (perplexity 30)"

Each entry says how to fit it (`fit(mu (N, D), n_components, *, seed, progress, threads, **settings)`
-> vae.analysis.projection.Projection), which settings a person may choose (with the values offered, the
widget's label and the link parameter that carries it), whether it is slow (then the app runs it as a
background task with progress, and on more than large_map.FIT_POINTS points fits it on a sample and
places the rest with its transform), and how to describe a fitted map. The command line (`python -m vae
project --method`), the Latent map page and its links read the methods from here.

To add a method: write its fit function (in its own module when it brings a dependency) and append a
ProjectionMethod to _METHODS below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Setting", "ProjectionMethod", "PROJECTIONS", "projection_method"]


@dataclass(frozen=True)
class Setting:
    """One choice a person makes for a method: a keyword of its fit function, offered as a few values."""

    name: str                   # the fit function's keyword, e.g. "perplexity"
    label: str                  # the widget's label, e.g. "Perplexity"
    choices: tuple              # the values offered, in order
    default: Any                # one of choices
    url: str                    # the link parameter that carries it, e.g. "perp"
    state_key: str              # the page's widget key, e.g. "map_perp"
    cast: Callable = float      # widget value -> the fit's argument
    help: str = ""


@dataclass(frozen=True)
class ProjectionMethod:
    """A way to lay latent means out on a 2-D or 3-D map."""

    name: str                                     # "pca" | "tsne" | "umap" | ...: CLI value, link value, cache key
    label: str                                    # shown in the app: "t-SNE"
    fit: Callable[..., Any]                       # (mu, n_components, *, seed, progress, threads, **settings) -> Projection
    describe: Callable[[Any], str]                # fitted Projection -> "t-SNE (perplexity 30)"
    caveat: str = ""                              # how (not) to read the map, appended to its note
    settings: tuple[Setting, ...] = ()
    slow: bool = False                            # a background task; sampled and placed above FIT_POINTS
    needs_dims: bool = False                      # k components need k latent dimensions (PCA)
    live_layout: bool = False                     # fit takes snapshot(iteration, total, layout (N, k)): shown as it computes
    step: str = "iteration"                       # what the live layout's count counts ("epoch" for UMAP)
    fit_points: int = 20_000                      # a slow method is fitted on at most this many rows, the rest placed

    def max_components(self, latent_dim: int) -> int:
        """The largest map dimension (2 or 3) this method gives for latent_dim-d codes."""
        return min(3, latent_dim) if self.needs_dims else 3

    def defaults(self) -> dict[str, Any]:
        """{setting name: default value, cast as the fit takes it}."""
        return {s.name: s.cast(s.default) for s in self.settings}


def _fit_pca(mu, n_components: int = 2, *, seed: int = 0, progress=None, threads=None):
    from vae.analysis.projection import project_pca

    proj = project_pca(mu, n_components)
    if progress is not None:
        progress(1, 1, "done")
    return proj


def _fit_tsne(mu, n_components: int = 2, *, seed: int = 0, progress=None, threads=None, **settings):
    from vae.analysis.projection import project_tsne

    if threads is not None:
        settings.setdefault("n_jobs", threads)
    return project_tsne(mu, n_components, seed=seed, progress=progress, **settings)


def _fit_umap(mu, n_components: int = 2, *, seed: int = 0, progress=None, threads=None, **settings):
    from vae.analysis.umap_projection import project_umap

    return project_umap(mu, n_components, seed=seed, progress=progress, **settings)


_METHODS = (
    ProjectionMethod(
        "pca", "PCA", _fit_pca, needs_dims=True,
        describe=lambda p: f"PCA keeps {p.explained_variance_ratio.sum():.0%} of the variance"),
    ProjectionMethod(
        "tsne", "t-SNE", _fit_tsne, slow=True, live_layout=True,
        # every row up to 100,000: on all 70,000 MNIST latents of mnist-16d t-SNE's short large-map schedule
        # is 4.05x faster than openTSNE at its 10-NN accuracy (0.966), where a fit on 20,000 with the rest
        # placed scored 0.953 and was no faster (bench/large_map.py, README)
        fit_points=100_000,
        describe=lambda p: f"t-SNE (perplexity {p.params.get('perplexity', 30.0):.0f})",
        caveat="distances between clusters mean little",
        settings=(Setting("perplexity", "Perplexity", (5, 10, 20, 30, 50, 100), 30, url="perp", state_key="map_perp",
                          cast=float),)),
    ProjectionMethod(
        "umap", "UMAP", _fit_umap, slow=True, live_layout=True, step="epoch",
        describe=lambda p: f"UMAP ({p.params['n_neighbors']} neighbours, min_dist {p.params['min_dist']:g})",
        caveat="like t-SNE it keeps neighbourhoods, sizes and gaps mean little",
        settings=(Setting("n_neighbors", "Neighbours", (5, 10, 15, 30, 50), 15, url="nn", state_key="map_umap_nn",
                          cast=int, help="UMAP's n_neighbors: small keeps local detail, large the global layout"),)),
)

PROJECTIONS: dict[str, ProjectionMethod] = {m.name: m for m in _METHODS}


def projection_method(name: str) -> ProjectionMethod:
    """The registered method called `name`; ValueError naming the known ones otherwise."""
    try:
        return PROJECTIONS[name]
    except KeyError:
        raise ValueError(f"unknown projection method {name!r}: {', '.join(PROJECTIONS)}") from None
