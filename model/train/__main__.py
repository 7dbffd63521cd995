"""`python -m sanacloud.model.train --spec spec.json`: one training run, events as JSON lines."""

from __future__ import annotations

import sys

from sanacloud.model.train.command import spec_command
from sanacloud.model.train.loop import run
from sanacloud.model.train.spec import TrainSpec


def main(argv: list[str] | None = None) -> int:
    return spec_command("python -m sanacloud.model.train", __doc__, TrainSpec, run, argv)


if __name__ == "__main__":
    sys.exit(main())
