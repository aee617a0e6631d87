"""This process's place in a torchrun job (WORLD_SIZE, RANK, LOCAL_RANK from the environment)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class Distributed:
    """This process's place in a torchrun job (world_size 1 when run alone)."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_env(cls) -> "Distributed":
        return cls(int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0")),
                   int(os.environ.get("LOCAL_RANK", "0")))
