"""A process-wide LRU of built models bounded by memory (VAE_MODEL_CACHE_MB), not by a count.

Streamlit's `st.cache_resource(max_entries=16)` kept 16 models whatever their size (20 uploads of a
52 MB model reached 4.7 GB). Here each entry is charged its parameter and buffer bytes; the least
recently used go first until the total fits (the newest entry always stays, even when alone it is
larger than the bound). Thread-safe; two sessions asking for the same missing key build it once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable

import torch

from vae.ui import hosting


def model_bytes(model: torch.nn.Module) -> int:
    """Bytes held by a model's parameters and buffers."""
    return sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))


class ModelLRU:
    def __init__(self, max_bytes: Callable[[], int] | None = None):
        self._max_bytes = max_bytes or (lambda: int(hosting.limit("VAE_MODEL_CACHE_MB") * 2**20))
        self._items: OrderedDict[tuple, tuple[object, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple, threading.Lock] = {}

    def get_or_build(self, key: tuple, build: Callable[[], torch.nn.Module]):
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit[0]
            key_lock = self._building.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                hit = self._items.get(key)
                if hit is not None:
                    self._items.move_to_end(key)
                    return hit[0]
            model = build()
            with self._lock:
                self._items[key] = (model, model_bytes(model))
                self._evict()
                self._building.pop(key, None)
            return model

    def _evict(self) -> None:
        limit = self._max_bytes()
        while len(self._items) > 1 and self.total_bytes > limit:
            self._items.popitem(last=False)

    @property
    def total_bytes(self) -> int:
        return sum(b for _, b in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


MODELS = ModelLRU()
