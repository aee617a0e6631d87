"""Saved latent directions for this session (per model), and the widgets that pick a start point for them.

    saved(lm.id) -> {name: Direction}      save(lm.id, direction)      forget(lm.id, name)
    axes_for(lm.id, names, lat) -> CustomAxes through the data's mean
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
