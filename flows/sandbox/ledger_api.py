"""Ledger HTTP endpoints: v2 under `/api/ledger/v2/…`, and the v1 GET account (docs/sandbox.md)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from flows.sandbox.errors import StackError, not_found, validation
from flows.sandbox.filters import Predicate, parse_filter
from flows.sandbox.ledger import (
    Ledger,
    TransactionRequest,
    WriteResult,
    render_transaction,
)
from flows.sandbox.names import is_address, is_asset, is_ledger_name
from flows.sandbox.numscript import Posting
from flows.sandbox.rendering import (
    ZERO_TIME,
    amount,
    cursor_response,
    data_response,
    digits,
    empty_response,
    encode_cursor,
    integer,
    key_text,
    page_size,
    parse_time,
    query_flag,
    read_cursor,
    read_json,
    string_map,
)

V2 = "/api/ledger/v2"


def _ledger(request: Request) -> Ledger:
    return request.app.state.sandbox.ledger


def _expand(request: Request) -> set[str]:
    found: set[str] = set()
    for value in request.query_params.getlist("expand"):
        found.update(part.strip() for part in value.split(",") if part.strip())
    return found


def _write_response(result: WriteResult) -> Response:
    headers = {"Idempotency-Hit": "true"} if result.replayed else None
    if result.body is None:
        return empty_response(result.status, headers)
    return data_response(result.body, result.status, headers)


def _transaction_id(request: Request) -> int:
    found = digits(request.path_params["id"], "transaction id")
    # Ids are 64-bit, as in the ledger's database.
    if found >= 2**63:
        raise validation(f"invalid transaction id {found}")
    return found


async def _filter(request: Request) -> Any:
    """A list filter from the JSON body (what the SDK sends) or from `?query=`."""
    body = await read_json(request)
    if body:
        return body
    return request.query_params.get("query")


# -- ledgers --------------------------------------------------------------------------------


async def list_ledgers(request: Request) -> Response:
    cursor = read_cursor(request)
    if cursor:
        after, size = cursor.position("after"), cursor.page_size()
    else:
        after, size = 0, page_size(request)
    ledgers, more = await _ledger(request).list_ledgers(after, size)
    following = encode_cursor({"after": ledgers[-1]["id"], "pageSize": size}) if more else None
    return cursor_response(ledgers, size, more, following)


async def create_ledger(request: Request) -> Response:
    name = request.path_params["ledger"]
    body = await read_json(request)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise validation("invalid body: expected an object")
    bucket = body.get("bucket")
    if bucket is not None and not isinstance(bucket, str):
        raise validation("bucket: expected a string")
    await _ledger(request).create_ledger(
        name,
        bucket or None,
        string_map(body.get("metadata"), "metadata"),
        string_map(body.get("features"), "features"),
    )
    return empty_response(204)


async def get_ledger(request: Request) -> Response:
    name = request.path_params["ledger"]
    found = await _ledger(request).get_ledger(name)
    if found is None:
        raise not_found(f"ledger {name} not found")
    return data_response(found)


# -- transactions ---------------------------------------------------------------------------


def parse_transaction_request(body: Any, force: bool = False) -> TransactionRequest:
    """Validate a create-transaction body as the ledger does (docs/sandbox.md, input checks)."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise validation("invalid body: expected an object")
    postings = body.get("postings") or None
    script = body.get("script") or None
    if script is not None and not isinstance(script, dict):
        raise validation("script: expected an object")
    plain = script.get("plain") if script else None
    if script and script.get("template"):
        raise validation("script templates are not supported by the sandbox")
    if postings and plain:
        raise validation("cannot pass postings and numscript in the same request")
    if not postings and not plain:
        raise StackError(400, "NO_POSTINGS", "you must pass either a posting array, a numscript script, or a template")
    request = TransactionRequest(
        metadata=string_map(body.get("metadata"), "metadata"),
        timestamp=parse_time(body.get("timestamp"), "timestamp"),
        force=force or body.get("force") is True,
    )
    reference = body.get("reference")
    if reference is not None and not isinstance(reference, str):
        raise validation("reference: expected a string")
    request.reference = key_text(reference, "reference") if reference else None
    accounts = body.get("accountMetadata") or {}
    if not isinstance(accounts, dict):
        raise validation("accountMetadata: expected an object")
    for address in accounts:
        if not is_address(address):
            raise validation(f"accountMetadata: invalid account address {address[:100]!r}")
    request.account_metadata = {address: string_map(values, f"accountMetadata[{address}]") for address, values in accounts.items()}
    if postings:
        request.postings = _postings(postings)
    else:
        if not isinstance(plain, str):
            raise validation("script.plain: expected a string")
        request.script = plain
        request.variables = _variables(script.get("vars") if script else None)
    return request


def _postings(raw: Any) -> list[Posting]:
    if not isinstance(raw, list):
        raise validation("postings: expected a list")
    postings: list[Posting] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise validation(f"postings[{index}]: expected an object")
        if item.get("amount") is None:
            raise validation(f"posting {index}: no amount defined")
        if integer(item["amount"], f"postings[{index}].amount") < 0:
            raise validation(f"posting {index}: negative amount")
        moved = amount(item["amount"], f"postings[{index}].amount")
        source, destination, asset = item.get("source"), item.get("destination"), item.get("asset")
        if not isinstance(source, str) or not is_address(source):
            raise validation(f"posting {index}: invalid source address")
        if not isinstance(destination, str) or not is_address(destination):
            raise validation(f"posting {index}: invalid destination address")
        if not isinstance(asset, str) or not is_asset(asset):
            raise validation(f"posting {index}: invalid asset")
        postings.append(Posting(source, destination, moved, asset))
    return postings


def _variables(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise validation("script.vars: expected an object")
    found: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise validation(f"script.vars.{name}: expected a string")
        found[str(name)] = str(value)
    return found


async def create_transaction(request: Request) -> Response:
    ledger = request.path_params["ledger"]
    parsed = parse_transaction_request(await read_json(request), query_flag(request, "force"))
    result = await _ledger(request).create_transaction(
        ledger, parsed, request.headers.get("Idempotency-Key") or None, query_flag(request, "dryRun")
    )
    return _write_response(result)


async def get_transaction(request: Request) -> Response:
    ledger = request.path_params["ledger"]
    transaction_id = _transaction_id(request)
    await _ledger(request).require_ledger(ledger)
    row = await _ledger(request).get_transaction(ledger, transaction_id)
    if row is None:
        raise not_found(f"transaction {transaction_id} not found")
    return data_response(render_transaction(row, "volumes" in _expand(request)))


async def list_transactions(request: Request) -> Response:
    ledger = request.path_params["ledger"]
    await _ledger(request).require_ledger(ledger)
    cursor = read_cursor(request)
    before: int | None = None
    if cursor:
        before, size, raw_filter = cursor.position("before"), cursor.page_size(), cursor.document("filter")
        expand = set(cursor.texts("expand"))
    else:
        size, raw_filter, expand = page_size(request), await _filter(request), _expand(request)
    predicate: Predicate | None = parse_filter(raw_filter)
    rows, more = await _ledger(request).list_transactions(ledger, before, size, predicate)
    following = None
    if more:
        following = encode_cursor({"before": rows[-1]["id"], "pageSize": size, "filter": raw_filter, "expand": sorted(expand)})
    items = [render_transaction(row, "volumes" in expand) for row in rows]
    return cursor_response(items, size, more, following)


async def revert_transaction(request: Request) -> Response:
    ledger = request.path_params["ledger"]
    transaction_id = _transaction_id(request)
    body = await read_json(request)
    if body is not None and not isinstance(body, dict):
        raise validation("invalid body: expected an object")
    metadata = string_map((body or {}).get("metadata"), "metadata")
    result = await _ledger(request).revert_transaction(
        ledger,
        transaction_id,
        metadata,
        force=query_flag(request, "force"),
        at_effective_date=query_flag(request, "atEffectiveDate"),
        idempotency_key=request.headers.get("Idempotency-Key") or None,
        dry_run=query_flag(request, "dryRun"),
    )
    return _write_response(result)


# -- accounts -------------------------------------------------------------------------------


async def get_account(request: Request) -> Response:
    ledger, address = request.path_params["ledger"], request.path_params["address"]
    await _ledger(request).require_ledger(ledger)
    view = await _ledger(request).get_account(ledger, address)
    if view is None:
        raise not_found(f"account {address} not found")
    expand = _expand(request)
    return data_response(view.render("volumes" in expand, "effectiveVolumes" in expand))


async def list_accounts(request: Request) -> Response:
    ledger = request.path_params["ledger"]
    await _ledger(request).require_ledger(ledger)
    cursor = read_cursor(request)
    after: str | None = None
    if cursor:
        after, size, raw_filter = cursor.text("after"), cursor.page_size(), cursor.document("filter")
        expand = set(cursor.texts("expand"))
    else:
        size, raw_filter, expand = page_size(request), await _filter(request), _expand(request)
    views, more = await _ledger(request).list_accounts(ledger, after, size, parse_filter(raw_filter))
    following = None
    if more:
        following = encode_cursor({"after": views[-1].address, "pageSize": size, "filter": raw_filter, "expand": sorted(expand)})
    items = [view.render("volumes" in expand, "effectiveVolumes" in expand) for view in views]
    return cursor_response(items, size, more, following)


async def add_account_metadata(request: Request) -> Response:
    ledger, address = request.path_params["ledger"], request.path_params["address"]
    if not is_address(address):
        raise validation(f"invalid account address {address[:100]!r}")
    metadata = string_map(await read_json(request), "metadata")
    result = await _ledger(request).add_account_metadata(
        ledger,
        address,
        metadata,
        request.headers.get("Idempotency-Key") or None,
        query_flag(request, "dryRun"),
    )
    return _write_response(result)


async def aggregate_balances(request: Request) -> Response:
    ledger = request.path_params["ledger"]
    await _ledger(request).require_ledger(ledger)
    totals = await _ledger(request).aggregate_balances(ledger, parse_filter(await _filter(request)))
    return data_response(totals)


async def get_account_v1(request: Request) -> Response:
    """Ledger v1 GET account: auto-creates the ledger; an unknown account is 200 and empty."""
    ledger, address = request.path_params["ledger"], request.path_params["address"]
    if not is_ledger_name(ledger):
        raise validation(f"invalid ledger name {ledger!r}")
    sandbox_ledger = _ledger(request)
    await sandbox_ledger.ensure_ledgers({ledger: ledger})
    view = await sandbox_ledger.get_account(ledger, address)
    if view is None:
        return data_response(
            {
                "address": address,
                "metadata": {},
                "firstUsage": ZERO_TIME,
                "insertionDate": ZERO_TIME,
                "updatedAt": ZERO_TIME,
                "balances": {},
            }
        )
    rendered = view.render(expand_volumes=True)
    rendered["balances"] = view.balances()
    return data_response(rendered)


def routes() -> list[tuple[str, str, Any]]:
    """(path, method, endpoint); v2 paths first so a ledger named `v2` cannot shadow them."""
    return [
        (V2, "GET", list_ledgers),
        (f"{V2}/{{ledger}}", "GET", get_ledger),
        (f"{V2}/{{ledger}}", "POST", create_ledger),
        (f"{V2}/{{ledger}}/transactions", "GET", list_transactions),
        (f"{V2}/{{ledger}}/transactions", "POST", create_transaction),
        (f"{V2}/{{ledger}}/transactions/{{id}}", "GET", get_transaction),
        (f"{V2}/{{ledger}}/transactions/{{id}}/revert", "POST", revert_transaction),
        (f"{V2}/{{ledger}}/accounts", "GET", list_accounts),
        (f"{V2}/{{ledger}}/accounts/{{address}}", "GET", get_account),
        (f"{V2}/{{ledger}}/accounts/{{address}}/metadata", "POST", add_account_metadata),
        (f"{V2}/{{ledger}}/aggregate/balances", "GET", aggregate_balances),
        ("/api/ledger/{ledger}/accounts/{address}", "GET", get_account_v1),
    ]
