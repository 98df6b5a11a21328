"""One declaration per admin operation, from which the API route, the remote client, the
capability list and the CLI backend are all derived (ARCHITECTURE Rule 2).

An operation is a plain function `fn(ctx, *, params...)` decorated with `@operation`.
Parameters named in the path template come from the path; for GET and DELETE the others
come from the query string, otherwise from the JSON body (snake_case or camelCase keys);
a parameter named `body` receives the whole JSON body; `headers=` maps parameters to
request headers. Types are checked from the annotations, the same way on every edge.
`audit=` names the audit action (observability.md §7; default: the operation's name when it
mutates) and may bring a `snapshot` of the state it changes, taken before and after.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gephyr_core.config.overlay import parse_bool
from gephyr_core.errors import BadRequest

_MISSING = inspect.Parameter.empty


def camel(name: str) -> str:
    """snake_case -> camelCase."""
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


@dataclass(frozen=True)
class Reply:
    """An operation result with a non-default status or extra headers."""

    data: Any
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Audit:
    """How an operation is audited: its action and what to record about the change.

    `snapshot(ctx, kwargs)` summarises the touched state (no secrets) and runs before and after
    the operation; `summarize(before, after)` may reduce the two (e.g. to counts and changed
    keys); `when(kwargs)` limits auditing to some calls (e.g. a non-cached quota probe).
    """

    action: str
    snapshot: Callable[[Any, Mapping[str, Any]], Any] | None = None
    summarize: Callable[[Any, Any], tuple[Any, Any]] | None = None
    when: Callable[[Mapping[str, Any]], bool] | None = None


@dataclass(frozen=True)
class Param:
    """One parameter of an operation and where it is read from."""

    name: str
    source: str  # path | query | body | whole_body | header
    annotation: Any
    default: Any
    aliases: tuple[str, ...]
    header: str = ""

    @property
    def required(self) -> bool:
        return self.default is _MISSING


@dataclass(frozen=True)
class Operation:
    """An admin operation: its function plus its HTTP declaration."""

    name: str
    method: str
    path: str
    func: Callable[..., Any]
    summary: str
    params: tuple[Param, ...]
    runtime: bool = False
    mutating: bool = False
    status: int = 200
    aliases: tuple[str, ...] = ()
    audit: Audit | None = None

    def __call__(self, ctx: Any, **kwargs: Any) -> Any:
        return self.func(ctx, **kwargs)

    def bind(
        self,
        path_params: Mapping[str, str],
        query: Mapping[str, list[str]],
        body: Any,
        headers: Mapping[str, str],
    ) -> dict[str, Any]:
        """Build keyword arguments from an HTTP request's parts (400 on bad input)."""
        if body is None:
            body = {}
        needs_object = any(p.source == "body" for p in self.params)
        if needs_object and not isinstance(body, dict):
            raise BadRequest("request body must be a JSON object")
        kwargs: dict[str, Any] = {}
        for p in self.params:
            present, raw = _lookup(p, path_params, query, body, headers)
            if not present:
                if p.required:
                    raise BadRequest(f"missing required field {p.aliases[-1] if p.aliases else p.name}")
                continue
            from_text = p.source in {"path", "query", "header"}
            kwargs[p.name] = coerce(p.name, raw, p.annotation, from_text)
        return kwargs


def _lookup(
    p: Param,
    path_params: Mapping[str, str],
    query: Mapping[str, list[str]],
    body: Any,
    headers: Mapping[str, str],
) -> tuple[bool, Any]:
    if p.source == "path":
        return (p.name in path_params), path_params.get(p.name)
    if p.source == "whole_body":
        return True, body
    if p.source == "header":
        value = headers.get(p.header)
        return value is not None, value
    for key in (p.name, *p.aliases):
        if p.source == "query" and key in query:
            values = query[key]
            return True, values if _is_list(p.annotation) else values[-1]
        if p.source == "body" and key in body:
            return True, body[key]
    return False, None


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(_unwrap_optional(annotation)[0]) is list


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        return (args[0] if len(args) == 1 else Any), optional
    return annotation, False


def _bool(value: Any, from_text: bool) -> Any:
    if isinstance(value, bool):
        return value
    if from_text and isinstance(value, str):
        return parse_bool(value)
    raise ValueError


def _number(kind: type) -> Any:
    def parse(value: Any, from_text: bool) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if kind is int and not isinstance(value, int):
                raise ValueError
            return kind(value)
        if from_text and isinstance(value, str):
            return kind(value)
        raise ValueError

    return parse


def _exact(kind: type) -> Any:
    def parse(value: Any, from_text: bool) -> Any:
        if isinstance(value, kind):
            return value
        raise ValueError

    return parse


_PARSERS: dict[Any, Any] = {
    bool: _bool,
    int: _number(int),
    float: _number(float),
    str: _exact(str),
    dict: _exact(dict),
}


def coerce(name: str, value: Any, annotation: Any, from_text: bool) -> Any:
    """Check (JSON) or parse (query/path/header text) a value against an annotation."""
    target, optional = _unwrap_optional(annotation)
    if value is None:
        if optional or target is Any:
            return None
        raise BadRequest(f"field {name} must not be null")
    origin = typing.get_origin(target)
    try:
        if origin is list:
            (item,) = typing.get_args(target) or (Any,)
            if from_text and isinstance(value, str):
                value = [v for v in value.split(",") if v]
            if isinstance(value, list):
                return [coerce(name, v, item, from_text) for v in value]
            raise ValueError
        parser = _PARSERS.get(origin or target)
        return value if parser is None else parser(value, from_text)
    except ValueError:
        raise BadRequest(f"field {name} must be {_describe(target)}") from None


def _describe(target: Any) -> str:
    if target is bool:
        return "a boolean"
    if target is int:
        return "an integer"
    if target is str:
        return "a string"
    if typing.get_origin(target) is list:
        return "an array"
    return "an object"


def operation(
    name: str,
    method: str,
    path: str,
    *,
    runtime: bool = False,
    mutating: bool | None = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    aliases: Mapping[str, tuple[str, ...]] | None = None,
    alias_paths: tuple[str, ...] = (),
    audit: str | Audit | None | bool = None,
) -> Callable[[Callable[..., Any]], Operation]:
    """Declare an admin operation (see module docstring); `audit=False` for one never audited."""

    def wrap(func: Callable[..., Any]) -> Operation:
        hints = typing.get_type_hints(func)
        path_names = set(re.findall(r"{(\w+)}", path))
        params = []
        for pname, sp in list(inspect.signature(func).parameters.items())[1:]:
            if pname in path_names:
                source = "path"
            elif headers and pname in headers:
                source = "header"
            elif pname == "body":
                source = "whole_body"
            else:
                source = "query" if method in {"GET", "DELETE"} else "body"
            extra = tuple((aliases or {}).get(pname, ()))
            twin = camel(pname)
            names = ((twin,) if twin != pname else ()) + extra
            params.append(
                Param(
                    pname,
                    source,
                    hints.get(pname, Any),
                    sp.default,
                    names,
                    (headers or {}).get(pname, "").lower(),
                )
            )
        doc = inspect.getdoc(func) or name
        mutates = method != "GET" if mutating is None else mutating
        return Operation(
            name=name,
            method=method,
            path=path,
            func=func,
            summary=doc.splitlines()[0],
            params=tuple(params),
            runtime=runtime,
            mutating=mutates,
            status=status,
            aliases=alias_paths,
            audit=_audit_of(name, mutates, audit),
        )

    return wrap


def _audit_of(name: str, mutates: bool, audit: str | Audit | None | bool) -> Audit | None:
    if isinstance(audit, Audit):
        return audit
    if isinstance(audit, str):
        return Audit(audit)
    if audit is False or (audit is None and not mutates):
        return None
    return Audit(name)


def collect(modules: list[types.ModuleType]) -> dict[str, Operation]:
    """Every Operation defined in the given modules, by name."""
    ops: dict[str, Operation] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, Operation):
                if value.name in ops:
                    raise RuntimeError(f"duplicate operation {value.name}")
                ops[value.name] = value
    return ops
