"""`python -m sanacloud.model.captioning --spec spec.json`: one captioning run, events as JSON lines."""

from __future__ import annotations

import sys

from sanacloud.model.captioning.run import CaptionSpec, run
from sanacloud.model.train.command import spec_command


def main(argv: list[str] | None = None) -> int:
    return spec_command("python -m sanacloud.model.captioning", __doc__, CaptionSpec, run, argv)


if __name__ == "__main__":
    sys.exit(main())
