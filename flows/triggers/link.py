"""`link(obj, rel)` for trigger expressions (docs/triggers.md), and running an expression with it.

Running: every evaluation is bounded by its budget (flows.triggers.expr.budget: memory, time), and
none may stall the event loop. An expression first runs inline with a short time slice
(`INLINE_SECONDS`): nearly every filter ends well within it, with no thread hop. One that runs
out of its slice runs again from the start in a worker thread with the full budget; expressions
are pure, so running one twice is safe. One that mentions `link` always runs in the thread: its
`link()` submits the HTTP GET to the event loop with `asyncio.run_coroutine_threadsafe` and waits
for the answer, the loop staying free meanwhile (so the in-process sandbox serves it).

Safety: `link()` only fetches URLs on the stack's origin (scheme, host and port of the stack
client's base URL): a trigger's payload cannot make Flows send its stack token to another host.
With `services` (the event's `app`: "ledger", "payments", "wallets", ...; or, for a trigger test,
the services the caller's token may read), it only fetches those services' paths
(`/api/<service>/...`): an event of one service cannot make a trigger read another service's
data with the worker's credentials. At most `MAX_LINKS` fetches per evaluation.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from flows.stack.client import StackClient
from flows.triggers import expr
from flows.triggers.expr.budget import Budget

INLINE_SECONDS = 0.002  # of evaluation on the event loop before an expression moves to a thread
INLINE_COMPILE_LENGTH = 256  # characters of source compiled on the loop (within ~2 ms)
MAX_LINKS = 16  # link() fetches per evaluation
LINK_WAIT = 60.0  # seconds an evaluation waits for one fetch (the stack client times out at 30)
EVALUATORS = 4  # threads evaluating expressions; more would only contend for the GIL

_APP_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
Services = Collection[str] | None
"""The stack services `link()` may read, by name; None: all of them."""
_evaluators = ThreadPoolExecutor(max_workers=EVALUATORS, thread_name_prefix="flows-expr")


class LinkError(Exception):
    """A `link()` failure; its text is the expression's error (docs/triggers.md)."""


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    port = url.port
    if port is None:
        port = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, port


def _find_uri(obj: Any, rel: str) -> str:
    # The reference re-encodes `obj` as JSON and decodes `{"links": [{"name", "uri"}]}` from it.
    links = obj.get("links") if isinstance(obj, dict) else None
    if links is None:
        links = []
    if not isinstance(links, list) or not all(isinstance(item, dict) for item in links):
        raise LinkError("decoding links: 'links' must be an array of objects")
    found = [item for item in links if item.get("name") == rel]
    if not found:
        raise LinkError(f"link '{rel}' not defined for object")
    if len(found) > 1:
        raise LinkError(f"multiple link '{rel}' found for object")
    uri = found[0].get("uri")
    if not isinstance(uri, str):
        raise LinkError(f"decoding links: the uri of link '{rel}' must be a string")
    return uri


def _check_target(stack: StackClient, target: httpx.URL, services: Services, rel: str, uri: str) -> None:
    """Refuse a URL off the stack's origin or, with `services`, outside those services' paths."""
    if not target.is_absolute_url or _origin(target) != _origin(stack.base_url):
        raise LinkError(f"link '{rel}' points outside the stack: {uri}")
    if services is None:
        return
    root = stack.base_url.path.rstrip("/") + "/api/"
    path = target.path  # percent-decoded, so `%2e%2e` shows as `..`
    segments = path.split("/")
    if (
        not any(_APP_NAME.fullmatch(name) and path.startswith(f"{root}{name}/") for name in services)
        or "." in segments
        or ".." in segments
        or "\\" in path
    ):
        allowed = ", ".join(services) or "none"
        raise LinkError(f"link '{rel}' points outside the stack services it may read ({allowed}): {uri}")


async def fetch(stack: StackClient | None, uri: str, rel: str, services: Services = None) -> Any:
    """The `data` of the stack resource at `uri`; `LinkError` on any failure."""
    if stack is None:
        raise LinkError("link is not available: no stack configured")
    try:
        target = httpx.URL(uri)
    except (httpx.InvalidURL, TypeError) as error:
        raise LinkError(f"reading resource: {uri}: {error}") from None
    _check_target(stack, target, services, rel, uri)
    try:
        response = await stack.get_absolute(target)
    except httpx.HTTPError as error:
        raise LinkError(f"reading resource: {uri}: {error}") from None
    if response.status_code >= 400:
        raise LinkError(f"unexpected status code when reading resource: {response.status_code}")
    try:
        body = json.loads(response.content)
    except ValueError as error:
        raise LinkError(f"decoding response: {error}") from None
    if not isinstance(body, dict):
        raise LinkError(f"decoding response: expected a JSON object, got {type(body).__name__}")
    return body.get("data")


def _link_function(stack: StackClient | None, loop: asyncio.AbstractEventLoop, services: Services) -> Any:
    fetched = 0

    def link(*args: Any) -> Any:
        nonlocal fetched
        if len(args) != 2:
            raise LinkError(f"expect two arguments, got {len(args)}")
        obj, rel = args
        if not isinstance(rel, str):
            raise LinkError("second parameter must be a string")
        uri = _find_uri(obj, rel)
        if threading.get_ident() == loop_thread:
            # Only reachable if an expression calls link without naming it (it cannot, today);
            # blocking here would deadlock the loop.
            raise LinkError("link is not available here")
        fetched += 1
        if fetched > MAX_LINKS:
            raise LinkError(f"too many link() calls: at most {MAX_LINKS} per expression")
        pending = asyncio.run_coroutine_threadsafe(fetch(stack, uri, rel, services), loop)
        try:
            return pending.result(timeout=LINK_WAIT)
        except TimeoutError:  # the loop is gone or stuck: do not hold this thread forever
            pending.cancel()
            raise LinkError(f"reading resource: {uri}: no answer within {LINK_WAIT:g} s") from None

    loop_thread = threading.get_ident()
    return link


async def compile_expression(source: str) -> expr.Program:
    """`expr.compile(source)`, off the event loop unless the source is short."""
    if len(source) <= INLINE_COMPILE_LENGTH:
        return expr.compile(source)
    return await asyncio.get_running_loop().run_in_executor(_evaluators, expr.compile, source)


async def run(program: expr.Program, source: str, payload: Any, stack: StackClient | None, *, services: Services = None) -> Any:
    """`program` (compiled from `source`) run against `{"event": payload}` with `link()`.

    With `services` (names such as "ledger"), `link()` only reads those services' resources;
    None: any resource of the stack. Raises
    `expr.ExprError` for every failure of the expression, its budget included.
    """
    return await _bounded(program, source, payload, stack, services, _value)


async def run_variable(program: expr.Program, source: str, payload: Any, stack: StackClient | None, *, services: Services = None) -> str:
    """As `run`, for a variable: its value as the workflow receives it, rendered within the same
    budget (rendering a large value is work of its own: `expr.to_variable_string`)."""
    rendered: str = await _bounded(program, source, payload, stack, services, _variable)
    return rendered


def _value(program: expr.Program, env: dict[str, Any], budget: Budget) -> Any:
    return program.run(env, budget=budget)


def _variable(program: expr.Program, env: dict[str, Any], budget: Budget) -> str:
    return expr.to_variable_string(program.run(env, budget=budget), budget)


Evaluation = Callable[[expr.Program, dict[str, Any], Budget], Any]


async def _bounded(
    program: expr.Program,
    source: str,
    payload: Any,
    stack: StackClient | None,
    services: Services,
    evaluate: Evaluation,
) -> Any:
    loop = asyncio.get_running_loop()
    env = {"event": payload, "link": _link_function(stack, loop, services)}
    if "link" not in source:
        slice_ = Budget(seconds=INLINE_SECONDS)
        try:
            return evaluate(program, env, slice_)
        except expr.ExprError:
            if not slice_.timed_out:
                raise
    # The budget starts once a thread takes the evaluation, not while it waits for one.
    return await loop.run_in_executor(_evaluators, lambda: evaluate(program, env, Budget()))
