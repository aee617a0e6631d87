"""Saved latent directions for this session (per model), and the widgets that pick a start point for them.

    saved(lm.id) -> {name: Direction}      save(lm.id, direction)      forget(lm.id, name)
    axes_for(lm.id, names, lat) -> CustomAxes through the data's mean
    factor_direction_measured(...) -> (vector, how it was made and what it does, warning)   cached
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from vae.analysis.directions import CustomAxes, Direction

_STORE = "_vae_directions"


def saved(model_id: str) -> dict[str, Direction]:
    """The directions saved for this model in this session, by name (in the order saved)."""
    return st.session_state.setdefault(_STORE, {}).setdefault(model_id, {})


def save(model_id: str, direction: Direction) -> None:
    saved(model_id)[direction.name] = direction


def forget(model_id: str, name: str) -> None:
    saved(model_id).pop(name, None)


def axes_for(model_id: str, names, lat) -> CustomAxes:
    """Custom axes along two (or three) saved directions, through the mean of the map's latent means."""
    store = saved(model_id)
    return CustomAxes.from_directions(*[store[n].vector for n in names], centre=np.asarray(lat.mu, np.float64).mean(0),
                                      names=tuple(names))


@st.cache_data(max_entries=32, show_spinner="Fitting the direction and measuring it ...")
def factor_direction_measured(model_id: str, dataset_key: str, factor: str, n_points: int, _model, _lat,
                              _values) -> tuple[np.ndarray, str, str | None]:
    """The direction along a factor (vae.analysis.directions.factor_direction on the active dimensions)
    and what it does, cached by model, data set, factor and point count.

    _lat: the page's Latents (mu, logvar (N, D)); _values: the factor (N,). Returns (vector (D,) float64,
    a sentence on how it was made and its measured effect in the factor's units, a warning or None).
    """
    from vae.analysis.direction_effect import direction_effect
    from vae.analysis.directions import factor_direction
    from vae.dims import dim_label

    vector = factor_direction(_lat.mu, _values, _lat.logvar)
    e = direction_effect(_model, _lat.mu, _lat.logvar, _values, vector)
    dims = ", ".join(dim_label(d) for d in e.active)
    source = (f"least-squares direction predicting {factor} from the active dimensions {dims} (mean KL above "
              f"0.01 nats; the decoder ignores the others), scaled to raise the predicted {factor} by one standard "
              f"deviation ({e.factor_sd:.3g}). Moving along it by 1 changes {factor} by "
              f"{e.per_unit:+.3g} units ({e.per_unit / e.factor_sd:+.2f} sd), measured by decoding and "
              f"re-encoding {e.n} test images")
    warning = None
    if e.r2 < 0.3:
        warning = (f"The latent means predict {factor} poorly (R² {e.r2:.2f}): the model does not encode it "
                   "linearly, and this direction means little.")
    elif abs(e.per_unit) < 0.25 * e.factor_sd:
        warning = (f"Decoded and re-encoded, this direction moves {factor} by only {e.per_unit / e.factor_sd:+.2f} "
                   "of its standard deviation per unit of strength.")
    return vector, source, warning
