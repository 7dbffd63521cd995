"""The ranges an admin's numbers and labels must fall in: the accounts functions refuse what is
outside them, whichever front end asked, and the admin API publishes the same ranges in its schema."""

from __future__ import annotations

from dataclasses import dataclass

from sanacloud.platform.errors import InvalidInput


@dataclass(frozen=True)
class Range:
    what: str  # for messages: "a pool's GPU capacity"
    low: float
    high: float
    low_excluded: bool = False  # a weight must be above 0, not 0

    def check(self, value: float) -> None:
        above_low = value > self.low if self.low_excluded else value >= self.low
        if not (above_low and value <= self.high):  # written so that NaN is refused too
            lowest = f"greater than {self.low:,}" if self.low_excluded else f"at least {self.low:,}"
            raise InvalidInput(f"{self.what} must be {lowest} and at most {self.high:,}, not {value}")


@dataclass(frozen=True)
class Length:
    what: str
    shortest: int
    longest: int

    def check(self, value: str) -> None:
        if not self.shortest <= len(value) <= self.longest:
            raise InvalidInput(f"{self.what} must be {self.shortest} to {self.longest} characters, "
                               f"not {len(value):,}")


FAIR_SHARE_WEIGHT = Range("a tenant's fair-share weight", 0, 1000, low_excluded=True)
GPU_TYPE = Length("a pool's GPU type", 1, 63)
CAPACITY_GPUS = Range("a pool's GPU capacity", 0, 100_000)
GPUS_PER_NODE = Range("a pool's GPUs per node", 1, 64)
NOMINAL_GPUS = Range("a quota's nominal GPUs", 0, 100_000)
BORROWING_LIMIT_GPUS = Range("a quota's borrowing limit", 0, 100_000)
