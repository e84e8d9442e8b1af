"""Wallets HTTP endpoints under `/api/wallets/…` (docs/sandbox.md)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from flows.sandbox.errors import VALIDATION, StackError, validation
from flows.sandbox.rendering import (
    JSON_TYPE,
    amount,
    cursor_response,
    data_response,
    empty_response,
    encode_cursor,
    json_response,
    key_text,
    page_size,
    parse_time,
    read_cursor,
    read_json,
    string_map,
)
from flows.sandbox.wallets import (
    MAIN,
    Credit,
    Debit,
    Wallets,
    parse_monetary,
    parse_subject,
)

PREFIX = "/api/wallets"


def _wallets(request: Request) -> Wallets:
    return request.app.state.sandbox.wallets


async def _body(request: Request) -> Any:
    """The JSON body; like chi's AllowContentType, a body of another type is a bare 415."""
    raw = await request.body()
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if raw.strip() and media_type != JSON_TYPE:
        raise StackError(415, None)
    return await read_json(request)


def _key(request: Request) -> str | None:
    return request.headers.get("Idempotency-Key") or None


def _metadata_query(request: Request) -> dict[str, str]:
    """`metadata[key]=value` pairs (the SDK's deepObject style)."""
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name.startswith("metadata[") and name.endswith("]"):
            found[name[len("metadata[") : -1]] = value
    return found


# -- wallets --------------------------------------------------------------------------------


async def create_wallet(request: Request) -> Response:
    body = await _body(request) or {}
    if not isinstance(body, dict):
        raise validation("expected an object")
    name = body.get("name") or ""
    if not isinstance(name, str):
        raise validation("name: expected a string")
    wallet = await _wallets(request).create(name, string_map(body.get("metadata"), "metadata"), _key(request))
    return data_response(wallet, 201)


async def get_wallet(request: Request) -> Response:
    wallets = _wallets(request)
    view = await wallets.get(request.path_params["id"])
    return data_response(wallets.render(view))


async def update_wallet(request: Request) -> Response:
    body = await _body(request) or {}
    if not isinstance(body, dict):
        raise validation("expected an object")
    await _wallets(request).update(request.path_params["id"], string_map(body.get("metadata"), "metadata"))
    return empty_response(204)


async def list_wallets(request: Request) -> Response:
    cursor = read_cursor(request)
    after: str | None = None
    if cursor:
        after, size = cursor.text("after"), cursor.page_size()
        name, metadata, expand = cursor.optional_text("name"), cursor.text_map("metadata"), cursor.flag("expand")
    else:
        size = page_size(request)
        name = request.query_params.get("name") or None
        metadata = _metadata_query(request)
        expand = "balances" in request.query_params.getlist("expand")
    wallets = _wallets(request)
    views, more = await wallets.list_wallets(name, metadata, after, size)
    following = None
    if more:
        state = {"after": views[-1].address, "pageSize": size, "name": name, "metadata": metadata, "expand": expand}
        following = encode_cursor(state)
    return cursor_response([wallets.render(view, with_assets=expand) for view in views], size, more, following)


async def credit_wallet(request: Request) -> Response:
    body = await _body(request)
    if not isinstance(body, dict):
        raise validation("expected an object")
    balance = body.get("balance") or MAIN
    if not isinstance(balance, str):
        raise validation("balance: expected a string")
    sources = body.get("sources") or []
    if not isinstance(sources, list):
        raise validation("sources: expected a list")
    reference = body.get("reference") or None
    if reference is not None and not isinstance(reference, str):
        raise validation("reference: expected a string")
    credit = Credit(
        amount=parse_monetary(body.get("amount")),
        balance=balance,
        sources=[parse_subject(source, f"sources[{i}]") for i, source in enumerate(sources)],
        metadata=string_map(body.get("metadata"), "metadata"),
        reference=key_text(reference, "reference") if reference else None,
        timestamp=parse_time(body.get("timestamp"), "timestamp"),
    )
    await _wallets(request).credit(request.path_params["id"], credit, _key(request))
    return empty_response(204)


def _parse_debit(body: Any) -> Debit:
    if not isinstance(body, dict):
        raise validation("expected an object")
    balances = body.get("balances")
    if balances is not None and (not isinstance(balances, list) or not all(isinstance(b, str) and b for b in balances)):
        raise validation("balances: expected a list of names")
    destination = body.get("destination")
    description = body.get("description") or ""
    reference = body.get("reference") or None
    if not isinstance(description, str) or (reference is not None and not isinstance(reference, str)):
        raise validation("description and reference are strings")
    return Debit(
        amount=parse_monetary(body.get("amount")),
        balances=balances or None,
        destination=parse_subject(destination, "destination") if destination else None,
        pending=body.get("pending") is True,
        description=description,
        metadata=string_map(body.get("metadata"), "metadata"),
        reference=key_text(reference, "reference") if reference else None,
        timestamp=parse_time(body.get("timestamp"), "timestamp"),
    )


async def debit_wallet(request: Request) -> Response:
    body = await _body(request)
    try:
        debit = _parse_debit(body)
    except StackError as error:
        # Wallets 2.2 reports every validation failure of a debit with this one message.
        if error.code == VALIDATION:
            raise validation("invalid balance specified") from error
        raise
    hold = await _wallets(request).debit(request.path_params["id"], debit, _key(request))
    if hold is None:
        return empty_response(204)
    return data_response(hold, 201)


# -- balances -------------------------------------------------------------------------------


async def create_balance(request: Request) -> Response:
    body = await _body(request)
    if not isinstance(body, dict):
        raise validation("expected an object")
    name = body.get("name")
    priority = body.get("priority") or 0
    if not isinstance(name, str) or isinstance(priority, bool) or not isinstance(priority, int):
        raise validation("name (string) and priority (integer) expected")
    created = await _wallets(request).create_balance(
        request.path_params["id"], name, parse_time(body.get("expiresAt"), "expiresAt"), priority
    )
    return data_response(created, 201)


async def list_balances(request: Request) -> Response:
    wallets = _wallets(request)
    await wallets.get(request.path_params["id"])
    views = await wallets.balances(request.path_params["id"])
    items = sorted((wallets.render_balance(v) for v in views), key=lambda b: b["name"])
    return cursor_response(items, max(len(items), 1), False)


async def get_balance(request: Request) -> Response:
    wallets = _wallets(request)
    view = await wallets.get_balance(request.path_params["id"], request.path_params["balance"])
    if view is None:
        raise StackError(404, None)
    return data_response(wallets.render_balance(view, with_assets=True))


# -- holds ----------------------------------------------------------------------------------


async def list_holds(request: Request) -> Response:
    cursor = read_cursor(request)
    after: str | None = None
    if cursor:
        after, size = cursor.text("after"), cursor.page_size()
        wallet_id, metadata = cursor.optional_text("walletID"), cursor.text_map("metadata")
    else:
        size = page_size(request)
        wallet_id, metadata = request.query_params.get("walletID") or None, _metadata_query(request)
    wallets = _wallets(request)
    views, more = await wallets.list_holds(wallet_id, metadata, after, size)
    following = None
    if more:
        following = encode_cursor({"after": views[-1].address, "pageSize": size, "walletID": wallet_id, "metadata": metadata})
    return cursor_response([wallets.render_hold(view) for view in views], size, more, following)


async def get_hold(request: Request) -> Response:
    wallets = _wallets(request)
    view = await wallets.get_hold(request.path_params["hold_id"])
    return data_response(wallets.render_hold(view, expanded=True))


async def confirm_hold(request: Request) -> Response:
    body = await _body(request) or {}
    if not isinstance(body, dict):
        raise validation("expected an object")
    wanted = body.get("amount")
    await _wallets(request).confirm_hold(
        request.path_params["hold_id"],
        None if wanted is None else amount(wanted, "amount"),
        body.get("final") is True,
        _key(request),
    )
    return empty_response(204)


async def void_hold(request: Request) -> Response:
    await _wallets(request).void_hold(request.path_params["hold_id"], _key(request))
    return empty_response(204)


async def info(_request: Request) -> Response:
    return json_response({"version": "sandbox"})


def routes() -> list[tuple[str, str, Any]]:
    return [
        (f"{PREFIX}/_info", "GET", info),
        (f"{PREFIX}/wallets", "GET", list_wallets),
        (f"{PREFIX}/wallets", "POST", create_wallet),
        (f"{PREFIX}/wallets/{{id}}", "GET", get_wallet),
        (f"{PREFIX}/wallets/{{id}}", "PATCH", update_wallet),
        (f"{PREFIX}/wallets/{{id}}/credit", "POST", credit_wallet),
        (f"{PREFIX}/wallets/{{id}}/debit", "POST", debit_wallet),
        (f"{PREFIX}/wallets/{{id}}/balances", "GET", list_balances),
        (f"{PREFIX}/wallets/{{id}}/balances", "POST", create_balance),
        (f"{PREFIX}/wallets/{{id}}/balances/{{balance}}", "GET", get_balance),
        (f"{PREFIX}/holds", "GET", list_holds),
        (f"{PREFIX}/holds/{{hold_id}}", "GET", get_hold),
        (f"{PREFIX}/holds/{{hold_id}}/confirm", "POST", confirm_hold),
        (f"{PREFIX}/holds/{{hold_id}}/void", "POST", void_hold),
    ]
