"""What the commands tell their user besides their output: notes and errors, one line each, on stderr."""

from __future__ import annotations

import typer


def note(text: str) -> None:
    typer.echo(text, err=True)


def error(text: str) -> None:
    typer.echo(f"error: {text}", err=True)


def fail(text: str, code: int = 1) -> typer.Exit:
    """Prints the error; raise what it returns to end the command."""
    error(text)
    return typer.Exit(code=code)
