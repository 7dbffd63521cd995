"""One definition of each resource serves both clients.

A resource method is written once, returning a description of its work (a `Call`, a `Flow` or a
`PageCall`), and decorated with the operation ids it covers. Through `Client` (a resource holding a
`SyncDriver`) the method returns the result; through `AsyncClient` it returns an awaitable of it.
The overloads of `__get__` tell type checkers which.
"""

from __future__ import annotations

import inspect
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


class Method:
    """What both kinds of resource method share: the builder, and binding it to a resource's driver."""

    def __init__(self, build: Callable[..., Any], operation_ids: tuple[str, ...]) -> None:
        self.build = build
        self.operation_ids = operation_ids
        self.__doc__ = build.__doc__
        signature = inspect.signature(build)  # shown by help() and editors, less `self`
        self.signature = signature.replace(parameters=list(signature.parameters.values())[1:],
                                           return_annotation=inspect.Signature.empty)

    def bind(self, instance: Resource[Any], run: Callable[[Any], Any]) -> Callable[..., Any]:
        def bound(*args: Any, **kwargs: Any) -> Any:
            return run(self.build(instance, *args, **kwargs))

        bound.__doc__, bound.__name__, bound.__qualname__ = self.__doc__, self.build.__name__, self.build.__qualname__
        bound.__signature__ = self.signature  # type: ignore[attr-defined]
        return bound


class Operation(Method, Generic[P, T]):
    def __init__(self, build: Callable[Concatenate[Any, P], Call[T] | Flow[T]], operation_ids: tuple[str, ...]):
        super().__init__(build, operation_ids)

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Operation[P, T]: ...
    @overload
    def __get__(self, instance: Resource[SyncDriver], owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(self, instance: Resource[AsyncDriver], owner: type[Any]) -> Callable[P, Awaitable[T]]: ...

    def __get__(self, instance: Resource[Any] | None, owner: type[Any]) -> Any:
        return self if instance is None else self.bind(instance, instance._driver.run)


class PagedOperation(Method, Generic[P, T]):
    def __init__(self, build: Callable[Concatenate[Any, P], PageCall[T]], operation_ids: tuple[str, ...]):
        super().__init__(build, operation_ids)

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> PagedOperation[P, T]: ...
    @overload
    def __get__(self, instance: Resource[SyncDriver], owner: type[Any]) -> Callable[P, Page[T]]: ...
    @overload
    def __get__(self, instance: Resource[AsyncDriver], owner: type[Any]) -> Callable[P, Awaitable[AsyncPage[T]]]: ...

    def __get__(self, instance: Resource[Any] | None, owner: type[Any]) -> Any:
        return self if instance is None else self.bind(instance, instance._driver.page)


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
