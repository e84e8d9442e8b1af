"""Hostile input to the sandbox stack, on SQLite and PostgreSQL: text no database can store (lone
surrogates, NUL), JSON nested too deep or too large, bad cursors and page sizes, fractional or
oversized amounts. Each is answered 400 (413 for a body too large) in the service's error
envelope before anything is written: no transaction, no balance, no metadata, no event. Big
amounts stay exact end to end."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sandbox_support import Recorder, SandboxServer, balances, transact
from sqlalchemy import insert
from test_sandbox_payments import (
    account,
    connector,
    orchestration_transfer,
    payment_body,
)

from flows.sandbox.tables import sandbox_accounts
from flows.storage.database import Database, sqlalchemy_url
from tests.support.stack import new_ledger

LEDGER_V2 = "/api/ledger/v2"
WALLETS = "/api/wallets/wallets"
PAYMENTS = "/api/payments"
JSON_HEADERS = {"Content-Type": "application/json"}
# A client's JSON escapes for what no database stores: lone surrogates and NUL.
UNSTORABLE = [r"\ud800", r"\udfff", r"\u0000"]
# Stands for the unstorable text in a body, replaced once the body is JSON text.
BAD = "@@BAD@@"
POSTING = {"source": "world", "destination": "users:1", "amount": 10, "asset": "USD"}
TX_META_SCRIPT = 'send [USD 10] (\n  source = @world\n  destination = @users:1\n)\nset_tx_meta("note", "@@BAD@@")\n'
VAR_SCRIPT = (
    "vars {\n  string $note\n}\nsend [USD 10] (\n  source = @world\n  destination = @users:1\n)\n"
    'set_tx_meta("note", $note)\n'
)


@dataclass
class Scene:
    """A server with an event sink, and what the hostile requests aim at."""

    server: SandboxServer
    http: httpx.Client
    events: Recorder
    ledger: str
    wallet: str
    payment: str
    payment_account: str

    @property
    def url(self) -> str:
        return self.server.url


def _start(database_url: str) -> Iterator[Scene]:
    events = Recorder()
    server = SandboxServer(database_url, events=events).start()
    try:
        url = server.url
        ledger = new_ledger(url)
        transact(url, ledger, [("world", "users:1", 100, "USD")])
        created = httpx.post(f"{url}{WALLETS}", json={"name": "target"})
        assert created.status_code == 201, created.text
        wallet = created.json()["data"]["id"]
        credit = {"amount": {"amount": 50, "asset": "USD"}}
        assert httpx.post(f"{url}{WALLETS}/{wallet}/credit", json=credit).status_code == 204
        paid = httpx.post(f"{url}{PAYMENTS}/payments", json=payment_body(url))
        assert paid.status_code == 200, paid.text
        internal = account(url)["id"]
        with httpx.Client(base_url=url, timeout=30) as http:
            yield Scene(server, http, events, ledger, wallet, paid.json()["data"]["id"], internal)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sqlite_scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    yield from _start(sqlalchemy_url(None, tmp_path_factory.mktemp("hostile") / "flows.sqlite"))


@pytest.fixture(scope="module")
def postgres_scene(postgres_cluster) -> Iterator[Scene]:
    yield from _start(sqlalchemy_url(postgres_cluster.create_database("flows_hostile"), None))


@pytest.fixture(params=["sqlite", "postgres"])
def scene(request: pytest.FixtureRequest) -> Scene:
    return request.getfixturevalue(f"{request.param}_scene")  # type: ignore[no-any-return]


def _walk(http: httpx.Client, path: str, **params: Any) -> list[Any]:
    """Every item of a list endpoint, page after page."""
    found: list[Any] = []
    query: dict[str, Any] = {"pageSize": 100, **params}
    while True:
        response = http.get(path, params=query)
        assert response.status_code == 200, response.text
        cursor = response.json()["cursor"]
        found += cursor["data"]
        if not cursor["hasMore"]:
            return found
        query = {"cursor": cursor["next"]}


def snapshot(scene: Scene) -> dict[str, Any]:
    """Everything a hostile request could have written."""
    http = scene.http
    return {
        "ledgers": _walk(http, LEDGER_V2),
        "transactions": _walk(http, f"{LEDGER_V2}/{scene.ledger}/transactions", expand="volumes"),
        "accounts": _walk(http, f"{LEDGER_V2}/{scene.ledger}/accounts", expand="volumes"),
        "wallet transactions": _walk(http, f"{LEDGER_V2}/wallets-002/transactions"),
        "wallet accounts": _walk(http, f"{LEDGER_V2}/wallets-002/accounts", expand="volumes"),
        "payments": _walk(http, f"{PAYMENTS}/payments"),
        "payment accounts": _walk(http, f"{PAYMENTS}/accounts"),
        "transfers": _walk(http, f"{PAYMENTS}/transfer-initiations"),
    }


def refused(scene: Scene, method: str, path: str, status: int = 400, **request: Any) -> dict[str, Any]:
    """Send a hostile request: answered `status` in the envelope, nothing written, no event."""
    writes = method != "GET"
    before, mark = snapshot(scene) if writes else None, scene.events.mark()
    response = scene.http.request(method, path, **request)
    assert response.status_code == status, response.text
    envelope = response.json()
    assert envelope["errorCode"] == "VALIDATION", envelope
    assert isinstance(envelope["errorMessage"], str) and envelope["errorMessage"]
    if writes:
        assert snapshot(scene) == before
    assert scene.events.since(mark) == []
    return envelope  # type: ignore[no-any-return]


def json_text(body: str, **headers: str) -> dict[str, Any]:
    """The request arguments sending `body` as it is written (httpx cannot encode surrogates)."""
    return {"content": body.encode(), "headers": {**JSON_HEADERS, **headers}}


# -- text the database cannot store ---------------------------------------------------------

# (name, method, path, body): `{ledger}`, `{wallet}`, `{payment}` name the scene's objects.
Body = Callable[[Scene], Any]
TEXT_WRITES: list[tuple[str, str, str, Body]] = [
    ("transaction metadata value", "POST", "{ledger}/transactions", lambda s: {"postings": [POSTING], "metadata": {"note": BAD}}),
    ("transaction metadata key", "POST", "{ledger}/transactions", lambda s: {"postings": [POSTING], "metadata": {BAD: "x"}}),
    ("transaction reference", "POST", "{ledger}/transactions", lambda s: {"postings": [POSTING], "reference": f"ref-{BAD}"}),
    ("transaction account metadata", "POST", "{ledger}/transactions",
     lambda s: {"postings": [POSTING], "accountMetadata": {"users:1": {"k": BAD}}}),
    ("numscript", "POST", "{ledger}/transactions", lambda s: {"script": {"plain": TX_META_SCRIPT}}),
    ("numscript variable", "POST", "{ledger}/transactions", lambda s: {"script": {"plain": VAR_SCRIPT, "vars": {"note": BAD}}}),
    ("revert metadata", "POST", "{ledger}/transactions/1/revert", lambda s: {"metadata": {"k": BAD}}),
    ("account metadata", "POST", "{ledger}/accounts/users:1/metadata", lambda s: {"k": BAD}),
    ("ledger metadata", "POST", "fresh", lambda s: {"metadata": {"k": BAD}}),
    ("wallet name", "POST", WALLETS, lambda s: {"name": BAD}),
    ("wallet metadata", "POST", WALLETS, lambda s: {"name": "w", "metadata": {"k": BAD}}),
    ("wallet update", "PATCH", WALLETS + "/{wallet}", lambda s: {"metadata": {BAD: "v"}}),
    ("wallet credit metadata", "POST", WALLETS + "/{wallet}/credit",
     lambda s: {"amount": {"amount": 10, "asset": "USD"}, "metadata": {"k": BAD}}),
    ("wallet credit reference", "POST", WALLETS + "/{wallet}/credit",
     lambda s: {"amount": {"amount": 10, "asset": "USD"}, "reference": BAD}),
    ("wallet hold description", "POST", WALLETS + "/{wallet}/debit",
     lambda s: {"amount": {"amount": 1, "asset": "USD"}, "pending": True, "description": BAD}),
    ("wallet balance name", "POST", WALLETS + "/{wallet}/balances", lambda s: {"name": BAD}),
    ("payment reference", "POST", PAYMENTS + "/payments", lambda s: payment_body(s.url, reference=f"py_{BAD}")),
    ("payment metadata", "POST", PAYMENTS + "/payments", lambda s: payment_body(s.url, metadata={"k": BAD})),
    ("payment metadata update", "PATCH", PAYMENTS + "/payments/{payment}/metadata", lambda s: {"k": BAD}),
    ("payment account name", "POST", PAYMENTS + "/accounts",
     lambda s: {"reference": "acct_x", "connectorID": connector(s.url), "type": "INTERNAL", "accountName": BAD}),
    ("transfer description", "POST", PAYMENTS + "/transfer-initiations",
     lambda s: orchestration_transfer(s.payment_account, description=BAD)),
]


def _path(scene: Scene, template: str) -> str:
    if not template.startswith("/"):
        template = f"{LEDGER_V2}/{template}"
    fresh = "fresh" + uuid.uuid4().hex[:8]
    return template.format(ledger=scene.ledger, wallet=scene.wallet, payment=scene.payment).replace(
        f"{LEDGER_V2}/fresh", f"{LEDGER_V2}/{fresh}"
    )


@pytest.mark.parametrize("bad", UNSTORABLE, ids=["high-surrogate", "low-surrogate", "nul"])
@pytest.mark.parametrize(("method", "template", "body"), [case[1:] for case in TEXT_WRITES], ids=[c[0] for c in TEXT_WRITES])
def test_unstorable_text_is_refused_before_anything_is_written(
    scene: Scene, bad: str, method: str, template: str, body: Body
) -> None:
    text = json.dumps(body(scene)).replace(BAD, bad)
    assert bad in text
    refused(scene, method, _path(scene, template), **json_text(text))


@pytest.mark.parametrize("bad", UNSTORABLE, ids=["high-surrogate", "low-surrogate", "nul"])
def test_unstorable_text_spelled_in_a_numscript_string_is_refused(scene: Scene, bad: str) -> None:
    # The script's own string literal holds the escape: `set_tx_meta("note", "\ud800")`.
    text = json.dumps({"script": {"plain": TX_META_SCRIPT}}).replace(BAD, "\\" + bad)
    refused(scene, "POST", f"{LEDGER_V2}/{scene.ledger}/transactions", **json_text(text))


def test_a_refused_transaction_moves_no_money_however_often_it_is_retried(scene: Scene) -> None:
    body = json.dumps({"postings": [POSTING], "metadata": {"note": BAD}}).replace(BAD, r"\ud800")
    path = f"{LEDGER_V2}/{scene.ledger}/transactions"
    for _ in range(3):
        refused(scene, "POST", path, **json_text(body, **{"Idempotency-Key": "retried"}))
    assert balances(scene.url, scene.ledger, "users:1") == {"USD": 100}


@pytest.mark.parametrize(
    "path",
    [
        WALLETS + "?name=%00",
        WALLETS + "?metadata[k]=a%00b",
        "/api/wallets/holds?walletID=%00",
        LEDGER_V2 + "/{ledger}/accounts/users:%00",
        LEDGER_V2 + "/{ledger}/accounts?query=" + '{"$match":{"metadata[k]":"\\ud800"}}',
        LEDGER_V2 + "/{ledger}/transactions?cursor=%00",
    ],
)
def test_unstorable_text_in_paths_and_queries_is_refused(scene: Scene, path: str) -> None:
    refused(scene, "GET", path.replace("{ledger}", scene.ledger))


def test_oversized_keys_are_refused(scene: Scene) -> None:
    """Idempotency-Keys, references and addresses are index keys: PostgreSQL caps those."""
    path = f"{LEDGER_V2}/{scene.ledger}/transactions"
    body = json.dumps({"postings": [POSTING]})
    refused(scene, "POST", path, **json_text(body, **{"Idempotency-Key": "k" * 5000}))
    long_reference = json.dumps({"postings": [POSTING], "reference": "é" * 3000})
    refused(scene, "POST", path, **json_text(long_reference))
    long_address = json.dumps({"postings": [{**POSTING, "destination": "a" * 5000}]})
    refused(scene, "POST", path, **json_text(long_address))
    long_account = json.dumps({"postings": [POSTING], "accountMetadata": {"a" * 5000: {"k": "v"}}})
    refused(scene, "POST", path, **json_text(long_account))
    account_body = {"reference": "r" * 5000, "connectorID": connector(scene.url), "type": "INTERNAL"}
    refused(scene, "POST", f"{PAYMENTS}/accounts", json=account_body)


def test_reads_answer_after_unstorable_writes(scene: Scene) -> None:
    """What the issue saw: a wallet, account or transaction written with a lone surrogate made
    every later read of them a 500."""
    http = scene.http
    http.post(WALLETS, **json_text(json.dumps({"name": BAD}).replace(BAD, r"\ud800")))
    http.post(f"{LEDGER_V2}/{scene.ledger}/accounts/users:1/metadata", **json_text(r'{"k": "\udfff"}'))
    http.post(
        f"{LEDGER_V2}/{scene.ledger}/transactions",
        **json_text(json.dumps({"postings": [POSTING], "metadata": {"k": BAD}}).replace(BAD, r"\ud800")),
    )
    for path in (
        WALLETS,
        f"{WALLETS}/{scene.wallet}",
        f"{LEDGER_V2}/{scene.ledger}/transactions",
        f"{LEDGER_V2}/{scene.ledger}/transactions/1",
        f"{LEDGER_V2}/{scene.ledger}/accounts",
        f"{LEDGER_V2}/{scene.ledger}/accounts/users:1",
        f"{LEDGER_V2}/wallets-002/accounts",
        f"/api/ledger/{scene.ledger}/accounts/users:1",
    ):
        response = http.get(path)
        assert response.status_code == 200, (path, response.text)


async def test_text_stored_before_these_checks_still_reads(scene: Scene) -> None:
    """A lone surrogate written by an earlier version reads back as its JSON escape, not a 500."""
    address = f"legacy:{uuid.uuid4().hex[:8]}"
    wallet_id = str(uuid.uuid4())
    when = datetime(2025, 1, 1, tzinfo=UTC)
    wallet_metadata = {"wallets/spec/type": "wallets.primary", "wallets/id": wallet_id, "wallets/name": "\udfff"}
    rows = [
        {"ledger": scene.ledger, "address": address, "metadata": {"k": "\ud800"}},
        {"ledger": "wallets-002", "address": f"wallets:{wallet_id.replace('-', '')}:main", "metadata": wallet_metadata},
    ]
    database = Database(scene.server.database_url)
    try:
        async with database.write() as conn:
            for row in rows:
                await conn.execute(
                    insert(sandbox_accounts).values(**row, first_usage=when, insertion_date=when, updated_at=when)
                )
    finally:
        await database.close()
    async with httpx.AsyncClient(base_url=scene.url) as client:
        account_read = await client.get(f"{LEDGER_V2}/{scene.ledger}/accounts/{address}")
        assert account_read.status_code == 200, account_read.text
        assert '"metadata":{"k":"\\ud800"}' in account_read.text
        for path in (f"{LEDGER_V2}/{scene.ledger}/accounts", f"{WALLETS}/{wallet_id}", WALLETS):
            assert (await client.get(path, params={"pageSize": 100})).status_code == 200, path


# -- deep, large and malformed JSON ---------------------------------------------------------


@pytest.mark.parametrize("depth", [70, 1_000, 100_000])
def test_deeply_nested_json_is_refused(scene: Scene, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    path = f"{LEDGER_V2}/{scene.ledger}/transactions"
    refused(scene, "POST", path, **json_text(f'{{"postings": [{json.dumps(POSTING)}], "metadata": {nested}}}'))
    refused(scene, "POST", WALLETS, **json_text(f'{{"name": "w", "metadata": {nested}}}'))
    refused(scene, "POST", f"{PAYMENTS}/payments", **json_text(nested))
    deep_filter = '{"$not":' * depth + '{"$match":{"address":"users:1"}}' + "}" * depth
    refused(scene, "GET", path, content=deep_filter.encode())
    if depth <= 1_000:  # a longer cursor would not fit in a request line
        refused(scene, "GET", path, params={"cursor": _token(nested)})


MISTYPED_FILTERS = [
    {"$exists": {"metadata": []}},
    {"$exists": {"metadata": 1}},
    {"$match": {"address": 18446744073709551616}},
    {"$match": {"account": {"a": 1}}},
    {"$lt": {"balance": "10"}},
    {"$gt": {"balance[USD/2]": True}},
    {"$gte": {"id": "x"}},
]


@pytest.mark.parametrize("clause", MISTYPED_FILTERS, ids=json.dumps)
@pytest.mark.parametrize("listing", ["accounts", "transactions", "aggregate/balances"])
def test_filters_of_the_wrong_type_are_refused(scene: Scene, clause: dict[str, Any], listing: str) -> None:
    path = f"{LEDGER_V2}/{scene.ledger}/{listing}"
    refused(scene, "GET", path, content=json.dumps({"$and": [{"$match": {"address": "users:"}}, {"$not": clause}]}).encode())


def test_an_address_filter_on_transactions_matches_none(scene: Scene) -> None:
    listed = scene.http.request("GET", f"{LEDGER_V2}/{scene.ledger}/transactions", content=b'{"$match": {"address": "users:"}}')
    assert listed.status_code == 200, listed.text
    assert listed.json()["cursor"]["data"] == []


def test_a_body_too_large_is_refused(scene: Scene) -> None:
    path = f"{LEDGER_V2}/{scene.ledger}/transactions"
    huge = json.dumps({"postings": [POSTING], "metadata": {"k": "x" * (5 * 1024 * 1024)}})
    refused(scene, "POST", path, status=413, **json_text(huge))


@pytest.mark.parametrize("body", ['{"postings": [NaN]}', '{"postings": [{"amount": Infinity}]}', "\xff\xfe{", '{"a": 1'])
def test_malformed_json_is_refused(scene: Scene, body: str) -> None:
    path = f"{LEDGER_V2}/{scene.ledger}/transactions"
    raw = body.encode("latin-1")
    refused(scene, "POST", path, content=raw, headers=JSON_HEADERS)


# -- cursors and page sizes -----------------------------------------------------------------


def _token(state: str) -> str:
    return base64.urlsafe_b64encode(state.encode()).decode().rstrip("=")


LISTS = [
    LEDGER_V2,
    LEDGER_V2 + "/{ledger}/transactions",
    LEDGER_V2 + "/{ledger}/accounts",
    WALLETS,
    "/api/wallets/holds",
    PAYMENTS + "/payments",
    PAYMENTS + "/accounts",
    PAYMENTS + "/transfer-initiations",
]
BAD_CURSORS = [
    _token('{"offset":0,"pageSize":-5}'),
    _token('{"offset":"x"}'),
    _token('{"after":"x","before":"x","pageSize":-5}'),
    _token('{"after":1e400,"before":1e400,"pageSize":10}'),
    _token('{"after":1.5,"before":1.5,"pageSize":1.5}'),
    _token('{"after":"a","before":5,"pageSize":100000000000000000000000000000}'),
    _token('{"after":"a","before":5,"pageSize":0}'),
    _token('{"after":"a","before":5,"pageSize":"abc"}'),
    _token('{"after":"\\u0000","before":99999999999999999999999,"pageSize":10}'),
    _token('{"after":"\\ud800","before":-1,"pageSize":10}'),
    _token("[1, 2]"),
    _token("not json"),
    "!!!not base64!!!",
    "é",
]
BAD_PAGE_SIZES = ["0", "-1", "1" + "0" * 30, "abc", "1.5", "1e3", "١٢", "²"]


@pytest.mark.parametrize("template", LISTS)
def test_bad_cursors_and_page_sizes_are_refused(scene: Scene, template: str) -> None:
    path = template.format(ledger=scene.ledger)
    for cursor in BAD_CURSORS:
        refused(scene, "GET", path, params={"cursor": cursor})
    for size in BAD_PAGE_SIZES:
        refused(scene, "GET", path, params={"pageSize": size})
    # A page size beyond the maximum is clamped, as go-libs does.
    listed = httpx.get(scene.url + path, params={"pageSize": str(2**64 - 1)})
    assert listed.status_code == 200 and listed.json()["cursor"]["pageSize"] == 100


def test_bad_transaction_ids_are_refused(scene: Scene) -> None:
    for raw in ("99999999999999999999", "²", "-1", "x"):
        path = f"{LEDGER_V2}/{scene.ledger}/transactions/{raw}"
        refused(scene, "GET", path)
        refused(scene, "POST", f"{path}/revert")


# -- amounts --------------------------------------------------------------------------------

MAX_AMOUNT = 2**256 - 1


@pytest.mark.parametrize("amount", ["1.5", "0.5", "1e3", "1.0", '"10"', "true", "-1", "null", str(MAX_AMOUNT + 1)])
def test_amounts_are_non_negative_integers(scene: Scene, amount: str) -> None:
    posting = f'{{"source": "world", "destination": "users:1", "amount": {amount}, "asset": "USD"}}'
    path = f"{LEDGER_V2}/{scene.ledger}/transactions"
    refused(scene, "POST", path, **json_text(f'{{"postings": [{posting}]}}'))
    if not amount.startswith('"'):  # Wallets also takes an amount as a string of digits
        credit = f'{{"amount": {{"amount": {amount}, "asset": "USD"}}}}'
        refused(scene, "POST", f"{WALLETS}/{scene.wallet}/credit", **json_text(credit))
    payment = json.dumps(payment_body(scene.url, amount=BAD)).replace(f'"{BAD}"', amount)
    refused(scene, "POST", f"{PAYMENTS}/payments", **json_text(payment))
    transfer = json.dumps(orchestration_transfer(scene.payment_account, amount=BAD)).replace(f'"{BAD}"', amount)
    refused(scene, "POST", f"{PAYMENTS}/transfer-initiations", **json_text(transfer))


@pytest.mark.parametrize(
    "variables", [{"amount": "USD 1.5"}, {"amount": "USD ²"}, {"amount": "USD ١"}, {"amount": f"USD {MAX_AMOUNT + 1}"},
                  {"amount": "USD " + "9" * 5000}],
)
def test_numscript_amounts_are_integers_in_range(scene: Scene, variables: dict[str, str]) -> None:
    script = "vars {\n  monetary $amount\n}\nsend $amount (\n  source = @world\n  destination = @users:1\n)\n"
    body = json.dumps({"script": {"plain": script, "vars": variables}})
    path = f"{LEDGER_V2}/{scene.ledger}/transactions"
    before, mark = snapshot(scene), scene.events.mark()
    response = httpx.post(scene.url + path, **json_text(body))
    assert response.status_code == 400, response.text
    assert response.json()["errorCode"] in ("VALIDATION", "COMPILATION_FAILED")
    assert snapshot(scene) == before and scene.events.since(mark) == []


@pytest.mark.parametrize("literal", ["9" * 5000, str(MAX_AMOUNT + 1), "١٢"])
def test_numscript_literals_are_integers_in_range(scene: Scene, literal: str) -> None:
    script = f"send [USD {literal}] (\n  source = @world\n  destination = @users:1\n)\n"
    path = f"{LEDGER_V2}/{scene.ledger}/transactions"
    before = snapshot(scene)
    response = httpx.post(scene.url + path, json={"script": {"plain": script}})
    assert response.status_code == 400, response.text
    assert response.json()["errorCode"] in ("VALIDATION", "COMPILATION_FAILED")
    assert snapshot(scene) == before


def test_a_volume_beyond_the_maximum_is_refused(scene: Scene) -> None:
    ledger = new_ledger(scene.url)
    transact(scene.url, ledger, [("world", "users:big", MAX_AMOUNT, "USD")])
    path = f"{LEDGER_V2}/{ledger}/transactions"
    mark = scene.events.mark()
    more = json.dumps({"postings": [{"source": "world", "destination": "users:big", "amount": 1, "asset": "USD"}]})
    response = httpx.post(scene.url + path, content=more.encode(), headers=JSON_HEADERS)
    assert response.status_code == 400 and response.json()["errorCode"] == "VALIDATION", response.text
    assert scene.events.since(mark) == []
    assert balances(scene.url, ledger, "users:big") == {"USD": MAX_AMOUNT}
    assert len(_walk(scene.http, f"{LEDGER_V2}/{ledger}/transactions")) == 1


def test_a_wallet_credit_beyond_the_maximum_is_refused(scene: Scene) -> None:
    created = scene.http.post(WALLETS, json={"name": "full"}).json()["data"]["id"]
    # An asset of its own: the scene's world can send no more of it.
    credit = {"amount": {"amount": MAX_AMOUNT, "asset": "MAXED"}}
    assert scene.http.post(f"{WALLETS}/{created}/credit", json=credit).status_code == 204
    refused(scene, "POST", f"{WALLETS}/{created}/credit", json={"amount": {"amount": 1, "asset": "MAXED"}})
    wallet = scene.http.get(f"{WALLETS}/{created}").json()["data"]
    assert wallet["balances"]["main"]["assets"] == {"MAXED": MAX_AMOUNT}


@pytest.mark.parametrize("amount", [2**53 + 1, 2**60 + 7, 2**63 - 1, 2**64 + 1, 2**200 + 3])
def test_big_amounts_are_exact_end_to_end(scene: Scene, amount: int) -> None:
    url, ledger = scene.url, new_ledger(scene.url)
    mark = scene.events.mark()
    created = transact(url, ledger, [("world", "users:a", amount, "USD"), ("users:a", "users:b", amount - 1, "USD")])
    [first, second] = created["data"]["postings"]
    assert (first["amount"], second["amount"]) == (amount, amount - 1)
    assert created["data"]["postCommitVolumes"]["users:a"]["USD"] == {"input": amount, "output": amount - 1, "balance": 1}
    [event] = scene.events.since(mark)
    assert event["payload"]["transactions"][0]["postings"][0]["amount"] == amount
    assert balances(url, ledger, "users:b") == {"USD": amount - 1}
    assert balances(url, ledger, "world") == {"USD": -amount}
    stored = httpx.get(f"{url}{LEDGER_V2}/{ledger}/transactions/1", params={"expand": "volumes"}).json()["data"]
    assert stored["postings"][0]["amount"] == amount
    assert stored["preCommitVolumes"]["users:a"]["USD"]["balance"] == 0
    account_read = httpx.get(f"{url}{LEDGER_V2}/{ledger}/accounts/users:a", params={"expand": "volumes"}).json()
    assert account_read["data"]["volumes"]["USD"] == {"input": amount, "output": amount - 1, "balance": 1}
    totals = httpx.get(f"{url}{LEDGER_V2}/{ledger}/aggregate/balances").json()["data"]
    assert totals == {"USD": 0}
    script = f"send [USD {amount}] (\n  source = @world\n  destination = @users:c\n)\n"
    transact(url, ledger, script=script)
    assert balances(url, ledger, "users:c") == {"USD": amount}
    # The raw JSON carries every digit (no float on the way).
    raw = httpx.get(f"{url}/api/ledger/{ledger}/accounts/users:c").text
    assert f'"USD":{amount}' in raw


def test_big_amounts_in_wallets_are_exact(scene: Scene) -> None:
    amount = 2**63 - 1
    created = httpx.post(f"{scene.url}{WALLETS}", json={"name": "big"}).json()["data"]["id"]
    credit = {"amount": {"amount": amount, "asset": "USD"}}
    assert httpx.post(f"{scene.url}{WALLETS}/{created}/credit", json=credit).status_code == 204
    debit = {"amount": {"amount": 2**62, "asset": "USD"}}
    assert httpx.post(f"{scene.url}{WALLETS}/{created}/debit", json=debit).status_code == 204
    wallet = httpx.get(f"{scene.url}{WALLETS}/{created}").json()["data"]
    assert wallet["balances"]["main"]["assets"] == {"USD": amount - 2**62}
