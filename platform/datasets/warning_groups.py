"""An upload's warnings, one line per kind: how many files it concerns and a few of them, however many."""

from __future__ import annotations

import enum
from collections import defaultdict

EXAMPLES = 5


class Warn(enum.Enum):
    """What is wrong, said of one file and of several; the lines come in this order."""

    ORPHAN_CAPTION = ("caption file has no matching image", "caption files have no matching image")
    MISSING_IMAGE = ("metadata line names an image that is not in the upload",
                     "metadata lines name images that are not in the upload")
    TWO_CAPTIONS = ("image has captions in both a metadata.jsonl line and a .txt file; the line is used",
                    "images have captions in both a metadata.jsonl line and a .txt file; the lines are used")
    SHARED_SIDECAR = ("caption file is shared by images with the same name, which all get its caption",
                      "caption files are shared by images with the same name, which all get their caption")
    SAME_CONTENT = ("image has the same content as another image in this upload",
                    "images have the same content as another image in this upload")
    UNCAPTIONED = ("image has no caption", "images have no caption")


class WarningGroups:
    def __init__(self) -> None:
        self._examples: dict[Warn, list[str]] = defaultdict(list)

    def add(self, kind: Warn, example: str) -> None:
        """`example` names the file(s): "'b.png' (same as 'a.png')"."""
        self._examples[kind].append(example)

    def lines(self) -> list[str]:
        return [_line(kind, self._examples[kind]) for kind in Warn if self._examples[kind]]


def _line(kind: Warn, examples: list[str]) -> str:
    one, several = kind.value
    more = len(examples) - EXAMPLES
    shown = ", ".join(examples[:EXAMPLES]) + (f" and {more:,} more" if more > 0 else "")
    return f"{len(examples):,} {one if len(examples) == 1 else several}: {shown}"
