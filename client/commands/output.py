"""How the user commands print.

On a terminal: rich tables, colours and live progress. Otherwise plain text for logs and pipes:
columns aligned with spaces, no ANSI codes, no other control characters (those in the API's
values too), no progress bars. With `--json`: the API's objects as one JSON document, nothing else
on stdout. Notes, progress lines and errors go to stderr.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

MISSING = "-"


def clean(text: str, *, keep_newlines: bool = False) -> str:
    """`text` without control characters: tabs, and newlines unless kept, become spaces; the rest go."""
    kept = "\n" if keep_newlines else ""
    return "".join(char if char in kept or unicodedata.category(char) != "Cc" else (" " if char in "\t\n\r" else "")
                   for char in text)


def shown(value: object) -> str:
    """One value as a cell: times to the second, lists comma-separated, objects as compact JSON."""
    return clean(_text(value))


def _text(value: object) -> str:
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T" and value[:4].isdigit():
        return value[:19].replace("T", " ")
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ", ".join(shown(each) for each in value) or MISSING
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), default=str) if value else MISSING
    return str(value)


def as_jsonable(value: object) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [as_jsonable(each) for each in value]
    if isinstance(value, dict):
        return {key: as_jsonable(each) for key, each in value.items()}
    return value


class Output:
    def __init__(self, *, as_json: bool) -> None:
        self.as_json = as_json
        self.interactive = sys.stdout.isatty()
        self.console = Console(highlight=False, soft_wrap=False) if self.interactive else None
        self.stderr_console = Console(stderr=True, highlight=False) if sys.stderr.isatty() else None

    @property
    def live(self) -> Console | None:
        """Where progress bars and live views go: stderr, when both stdout and stderr are terminals."""
        return self.stderr_console if self.interactive else None

    def json(self, value: object) -> None:
        print(json.dumps(as_jsonable(value), indent=2))  # ASCII: escapes every control character

    def objects(self, value: object, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        """`value` (an API object or a list of them) as JSON under --json, else as the table of `rows`."""
        if self.as_json:
            self.json(value)
        else:
            self.table(headers, rows)

    def said(self, value: object, text: str) -> None:
        """`value` as JSON under --json, else the sentence `text`."""
        if self.as_json:
            self.json(value)
        else:
            self.line(text)

    def deleted(self, kind: str, object_id: str) -> None:
        self.said({"id": object_id, "deleted": True}, f"deleted {kind} {object_id}")

    def line(self, text: str = "", *, style: str | None = None) -> None:
        if self.console is not None:
            self.console.print(Text(clean(text, keep_newlines=True), style=style or ""))
        else:
            print(clean(text, keep_newlines=True))

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[object]], *, title: str | None = None) -> None:
        cells = [[shown(value) for value in row] for row in rows]
        if self.console is not None:
            table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", header_style="bold")
            for header in headers:  # the first column (the object's id) on one line; the others fold, never cut
                table.add_column(header, no_wrap=header == headers[0], overflow="fold")
            for row in cells:
                table.add_row(*(Text(cell) for cell in row))
            self.console.print(table)
            return
        if title:
            print(clean(title))
        widths = [max(len(cell) for cell in column) for column in zip(headers, *cells, strict=False)]
        for row in [list(headers), *cells]:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())

    def fields(self, pairs: Iterable[tuple[str, object]]) -> None:
        """An object's fields, one per line."""
        listed = [(name, shown(value)) for name, value in pairs]
        if self.console is not None:
            grid = Table.grid(padding=(0, 2))
            grid.add_column(style="bold")
            grid.add_column()
            for name, value in listed:
                grid.add_row(Text(name), Text(value))
            self.console.print(grid)
            return
        width = max((len(name) for name, _ in listed), default=0)
        for name, value in listed:
            print(f"{name + ':':<{width + 1}} {value}")

    def note(self, text: str) -> None:
        """To stderr: what the user may want to know, never part of the output."""
        if self.stderr_console is not None:
            self.stderr_console.print(Text(clean(text, keep_newlines=True), style="dim"))
        else:
            print(clean(text, keep_newlines=True), file=sys.stderr, flush=True)

    def error(self, text: str) -> None:
        if self.stderr_console is not None:
            self.stderr_console.print(Text.assemble(("error: ", "bold red"), clean(text, keep_newlines=True)))
        else:
            print(f"error: {clean(text, keep_newlines=True)}", file=sys.stderr, flush=True)


def counted(count: int, noun: str) -> str:
    """'1 file', '3 files'."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def human_bytes(count: int) -> str:
    amount = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            break
        amount /= 1000
    return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
