"""What every user command shares: `--json`, `--url` and `--api-key`, the SDK client they make, and one
way to end on an error: the API's message, the fields it names and the request id, never a traceback.

Exit codes: 0 done; 1 the API refused, or could not be reached, or a file could not be read or
written; 2 the command was used wrongly; `jobs watch` adds 3 (the job failed), 4 (cancelled),
5 (its --timeout passed) and 6 (paused).
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Annotated, Any, TypeVar

import typer

from sanacloud.client import Client
from sanacloud.client.commands import config
from sanacloud.client.commands.output import Output
from sanacloud.client.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidRequest,
    SanacloudError,
)

API_ERROR = 1
USAGE_ERROR = 2
INTERRUPTED = 130
MAX_PAGE = 200  # the API's largest page
T = TypeVar("T")

Limit = Annotated[int, typer.Option(min=1, help="show at most this many")]

JsonFlag = Annotated[bool, typer.Option("--json", help="print the API's objects as one JSON document")]
UrlOption = Annotated[str | None, typer.Option(
    "--url", show_default=False,
    help=f"the API (default: {config.URL_VARIABLE}, else `sanacloud login`'s, else {config.DEFAULT_URL})")]
ApiKeyOption = Annotated[str | None, typer.Option(
    "--api-key", show_default=False, help=f"the API key (default: {config.KEY_VARIABLE}, else `sanacloud login`'s)")]


class Cli:
    """One command's output and its connection to the API (made when first used)."""

    def __init__(self, out: Output, target: config.Target) -> None:
        self.out, self.target = out, target
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            if not self.target.api_key:
                raise self.fail(f"no API key for {self.target.url}: run `sanacloud login`, set "
                                f"{config.KEY_VARIABLE}, or pass --api-key")
            self._client = Client(self.target.url, self.target.api_key)
        return self._client

    def fail(self, message: str, code: int = API_ERROR) -> typer.Exit:
        """Prints the error; raise what it returns to end the command."""
        self.out.error(message)
        return typer.Exit(code)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


@contextmanager
def command_session(*, as_json: bool, url: str | None, api_key: str | None) -> Iterator[Cli]:
    out = Output(as_json=as_json)
    try:
        target = config.resolve(url, api_key)
    except config.ConfigProblem as problem:
        out.error(str(problem))
        raise typer.Exit(API_ERROR) from None
    cli = Cli(out, target)
    try:
        yield cli
    except APIStatusError as error:
        report_refusal(out, error)
        raise typer.Exit(API_ERROR) from None
    except (APIConnectionError, APITimeoutError) as error:
        out.error(f"cannot reach the sanacloud API at {target.url}: {error}")
        raise typer.Exit(API_ERROR) from None
    except SanacloudError as error:
        out.error(str(error))
        raise typer.Exit(API_ERROR) from None
    except BrokenPipeError:  # the reader stopped early (`| head`): what it read is what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as error:
        out.error(f"{error.strerror or error}: {error.filename}" if error.filename else str(error))
        raise typer.Exit(API_ERROR) from None
    except KeyboardInterrupt:
        out.error("interrupted")
        raise typer.Exit(INTERRUPTED) from None
    finally:
        cli.close()


def report_refusal(out: Output, error: APIStatusError, *, fields: bool = True) -> None:
    """The API's message, then each field it names (unless the caller shows them), then the request id."""
    lines = [str(error)]
    if fields and isinstance(error, InvalidRequest):
        for each in error.errors:
            loc, msg = str(each.get("loc") or "(request)"), str(each.get("msg"))
            named = msg if msg.startswith(f"{loc}:") else f"{loc}: {msg}"
            if named not in lines[0]:  # the detail often is the first field's problem already
                lines.append(f"  {named}")
    lines.append(f"(HTTP {error.status_code}" + (f", request id {error.request_id})" if error.request_id else ")"))
    out.error("\n".join(lines))


def api_command(func: Callable[..., None]) -> Callable[..., None]:
    """Turns `func(cli, ...)` into a typer command with `--json`, `--url` and `--api-key` added."""
    signature = inspect.signature(func, eval_str=True)
    shared = [inspect.Parameter("as_json", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=JsonFlag),
              inspect.Parameter("url", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=UrlOption),
              inspect.Parameter("api_key", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ApiKeyOption)]

    @functools.wraps(func)
    def command(*args: Any, as_json: bool = False, url: str | None = None, api_key: str | None = None,
                **kwargs: Any) -> None:
        with command_session(as_json=as_json, url=url, api_key=api_key) as cli:
            func(cli, *args, **kwargs)

    command.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*list(signature.parameters.values())[1:], *shared])
    command.__annotations__ = {}  # the signature above holds them, evaluated
    return command


def first(limit: int, listing: Callable[[int], Iterable[T]]) -> list[T]:
    """At most `limit` items of a listing that pages itself, `listing(page_size)`, in pages the API allows."""
    return list(islice(listing(min(limit, MAX_PAGE)), limit))
