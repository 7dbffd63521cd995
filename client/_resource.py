"""One definition of each resource serves both clients.

A resource method is written once, returning a description of its work (a `Call`, a `Flow` or a
`PageCall`), and decorated with the operation ids it covers. Through `Client` (a resource holding a
`SyncDriver`) the method returns the result; through `AsyncClient` it returns an awaitable of it.
The overloads of `__get__` tell type checkers which.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from sanacloud.client._call import Call, Flow
from sanacloud.client._drivers import AsyncDriver, SyncDriver
from sanacloud.client.pagination import AsyncPage, Page, PageCall

P = ParamSpec("P")
T = TypeVar("T")
D = TypeVar("D", bound=SyncDriver | AsyncDriver)


class Resource(Generic[D]):
    def __init__(self, driver: D) -> None:
        self._driver = driver


class Operation(Generic[P, T]):
    def __init__(self, build: Callable[Concatenate[Any, P], Call[T] | Flow[T]], operation_ids: tuple[str, ...]):
        self.build = build
        self.operation_ids = operation_ids
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Operation[P, T]: ...
    @overload
    def __get__(self, instance: Resource[SyncDriver], owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(self, instance: Resource[AsyncDriver], owner: type[Any]) -> Callable[P, Awaitable[T]]: ...

    def __get__(self, instance: Resource[Any] | None, owner: type[Any]) -> Any:
        if instance is None:
            return self
        driver = instance._driver

        def bound(*args: P.args, **kwargs: P.kwargs) -> Any:
            return driver.run(self.build(instance, *args, **kwargs))

        return named_like(bound, self.build)


class PagedOperation(Generic[P, T]):
    def __init__(self, build: Callable[Concatenate[Any, P], PageCall[T]], operation_ids: tuple[str, ...]):
        self.build = build
        self.operation_ids = operation_ids
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> PagedOperation[P, T]: ...
    @overload
    def __get__(self, instance: Resource[SyncDriver], owner: type[Any]) -> Callable[P, Page[T]]: ...
    @overload
    def __get__(self, instance: Resource[AsyncDriver], owner: type[Any]) -> Callable[P, Awaitable[AsyncPage[T]]]: ...

    def __get__(self, instance: Resource[Any] | None, owner: type[Any]) -> Any:
        if instance is None:
            return self
        driver = instance._driver

        def bound(*args: P.args, **kwargs: P.kwargs) -> Any:
            return driver.page(self.build(instance, *args, **kwargs))

        return named_like(bound, self.build)


def named_like(bound: Callable[..., Any], build: Callable[..., Any]) -> Callable[..., Any]:
    """`bound` with the builder's name and docstring, for help() and tracebacks."""
    bound.__doc__, bound.__name__, bound.__qualname__ = build.__doc__, build.__name__, build.__qualname__
    return bound


def operation(*operation_ids: str) -> Callable[[Callable[Concatenate[Any, P], Call[T] | Flow[T]]], Operation[P, T]]:
    """Makes a resource method of a builder; `operation_ids` are the API operations it stands for."""
    def wrap(build: Callable[Concatenate[Any, P], Call[T] | Flow[T]]) -> Operation[P, T]:
        return Operation(build, operation_ids)

    return wrap


def paged(operation_id: str) -> Callable[[Callable[Concatenate[Any, P], PageCall[T]]], PagedOperation[P, T]]:
    """Makes a list method, returning a `Page` (an `AsyncPage` through `AsyncClient`), of a builder."""
    def wrap(build: Callable[Concatenate[Any, P], PageCall[T]]) -> PagedOperation[P, T]:
        return PagedOperation(build, (operation_id,))

    return wrap
