"""`link(obj, rel)` for trigger expressions (reference §9.5), and running an expression with it.

expr-lang evaluation is synchronous while the stack client is async. Rather than pre-resolving
links by walking the compiled expression (the arguments of `link()` can be any sub-expression,
even the result of another `link()`), an expression that mentions `link` is run in a worker thread
(`asyncio.to_thread`); its `link()` submits the HTTP GET to the event loop with
`asyncio.run_coroutine_threadsafe` and waits for the answer. The loop stays free meanwhile, so the
request is served even by the in-process sandbox. Expressions that do not mention `link` (the
common case) run inline, with no thread hop.

Safety: `link()` only fetches URLs on the stack's origin (scheme, host and port of the stack
client's base URL): a trigger's payload cannot make Flows send its stack token to another host.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx

from flows.stack.client import StackClient
from flows.triggers import expr


class LinkError(Exception):
    """A `link()` failure; its text is the expression's error (reference §9.5)."""


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


async def fetch(stack: StackClient | None, uri: str, rel: str) -> Any:
    """The `data` of the stack resource at `uri`; `LinkError` on any failure."""
    if stack is None:
        raise LinkError("link is not available: no stack configured")
    try:
        target = httpx.URL(uri)
    except (httpx.InvalidURL, TypeError) as error:
        raise LinkError(f"reading resource: {uri}: {error}") from None
    if not target.is_absolute_url or _origin(target) != _origin(stack.base_url):
        raise LinkError(f"link '{rel}' points outside the stack: {uri}")
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


def _link_function(stack: StackClient | None, loop: asyncio.AbstractEventLoop) -> Any:
    def link(*args: Any) -> Any:
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
        return asyncio.run_coroutine_threadsafe(fetch(stack, uri, rel), loop).result()

    loop_thread = threading.get_ident()
    return link


async def run(program: expr.Program, source: str, payload: Any, stack: StackClient | None) -> Any:
    """`program` (compiled from `source`) run against `{"event": payload}` with `link()`."""
    env = {"event": payload, "link": _link_function(stack, asyncio.get_running_loop())}
    if "link" not in source:
        return program.run(env)
    return await asyncio.to_thread(program.run, env)
