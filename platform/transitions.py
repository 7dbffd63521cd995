"""What the state machines (jobs, endpoints, generations) share: each lists the moves its status
may make, and any other move is a bug that raises."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

S = TypeVar("S", bound=StrEnum)


class IllegalTransition(RuntimeError):
    def __init__(self, kind: str, object_id: str, current: str, target: str) -> None:
        super().__init__(f"{kind} {object_id} cannot go from {current} to {target}")
        self.current = current
        self.target = target


def allowed(table: Mapping[S, frozenset[S]], current: str, target: S) -> bool:
    return target in table[type(target)(current)]
