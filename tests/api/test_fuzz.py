"""Fuzzing every public endpoint of a real `flows serve` (SQLite) with hostile input.

For each endpoint Hypothesis sends a fixed number of requests built from the strategies of
tests/support/hostile.py: near-misses of a valid body (one field replaced by a huge number, a
float, a lone surrogate, NUL, 1,000-deep nesting, …), broken JSON and invalid UTF-8, odd content
types, forged cursors and page sizes, odd path segments and header values. Every answer must be:

* below 500, and the connection never dropped nor left hanging;
* for a 4xx, the error envelope of the service that answered: the API's
  `{"errorCode": VALIDATION|NOT_FOUND|INTERNAL, "errorMessage"}`, the stack's codes for the
  sandbox (flows/sandbox/errors.py), RFC 6749's `{"error"}` for the token endpoint;
* for a 4xx answer to a write, nothing written: the state the endpoint could change (read
  through the list APIs) is what it was before the request.

Examples are derandomized, so a run is the same on every machine.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import AUTH_CLIENTS
from tests.support.hostile import (
    ODD_PAGE_SIZES,
    documents_with,
    hostile_bodies,
    hostile_content_types,
    hostile_cursors,
    hostile_documents,
    hostile_expressions,
    hostile_header_values,
    hostile_query_values,
    hostile_segments,
    hostile_yaml,
    percent_encoded,
)
from tests.support.polling import eventually
from tests.support.service import FlowsProcess

EXAMPLES = 25
"""Requests per endpoint; more for the few whose bodies have the most to validate."""

MANY_EXAMPLES = 100

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

TIMEOUT_S = 20
"""Longer than any wait of the server (`wait=true`: 4 s); a request still running by then is
the server frozen."""

Known = Mapping[str, str]
"""Ids of real objects made for the run, by placeholder name (`workflow_id`, `ledger`, …)."""


# -- talking to the server -------------------------------------------------------------------


class HostileRequest:
    """One request; not a dataclass, so that Hypothesis reports it by its short `repr`."""

    def __init__(
        self, method: str, target: str, body: bytes | None = None, headers: tuple[tuple[str, bytes], ...] = ()
    ) -> None:
        self.method = method
        self.target = target
        """Path and query, already percent-encoded."""
        self.body = body
        self.headers = headers

    def __repr__(self) -> str:
        parts = [f"{self.method} {_shortened(self.target)}"]
        parts += [f"{name}: {_shortened(value)}" for name, value in self.headers]
        parts += [] if self.body is None else [f"body={_shortened(self.body)}"]
        return f"HostileRequest({', '.join(parts)})"


def _shortened(value: Any, limit: int = 300) -> str:
    """`repr(value)`, cut after `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


@dataclass
class Target:
    """A running service and a client for it."""

    service: FlowsProcess
    client: httpx.Client

    def send(self, request: HostileRequest) -> httpx.Response:
        try:
            return self.client.request(
                request.method,
                self.service.url + request.target,
                content=request.body,
                headers=[(name.encode(), value) for name, value in request.headers],
            )
        except httpx.TransportError as error:
            pytest.fail(f"{request!r}: no answer ({error!r})\n{self.log_tail()}")

    def read(self, target: str) -> Any:
        """The JSON of a GET that must succeed (a write answered 2xx must leave readable data)."""
        response = self.client.get(self.service.url + target)
        assert response.status_code == 200, f"GET {target}: {response.status_code} {response.text}"
        return response.json()

    def log_tail(self) -> str:
        return f"--- server log ---\n{self.service.log_tail(40)}"


def _target(service: FlowsProcess) -> Iterator[Target]:
    with httpx.Client(timeout=TIMEOUT_S) as client:
        yield Target(service, client)


# -- what each answer must look like ---------------------------------------------------------

API_ERROR_CODES = {"VALIDATION", "NOT_FOUND", "INTERNAL"}
SANDBOX_ERROR_CODES = {
    # Ledger v2
    "VALIDATION", "INSUFFICIENT_FUND", "COMPILATION_FAILED", "METADATA_OVERRIDE", "NO_POSTINGS",
    "CONFLICT", "ALREADY_REVERT", "NOT_FOUND", "LEDGER_NOT_FOUND", "LEDGER_ALREADY_EXISTS",
    # Wallets and Payments
    "INVALID_ID", "MISSING_OR_INVALID_BODY", "HOLD_CLOSED", "REQUEST_TOO_LARGE",
}  # fmt: skip
OAUTH_ERROR_CODES = {
    "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
    "unsupported_grant_type", "invalid_scope",
}  # fmt: skip


def _json_object(response: httpx.Response) -> dict[str, Any]:
    assert response.headers.get("content-type", "").split(";")[0].strip() == "application/json"
    body = response.json()
    assert isinstance(body, dict)
    return body


def api_error(response: httpx.Response) -> None:
    body = _json_object(response)
    assert body.get("errorCode") in API_ERROR_CODES
    assert isinstance(body.get("errorMessage"), str) and body["errorMessage"]


def sandbox_error(response: httpx.Response) -> None:
    if not response.content:
        return  # Wallets answers an unknown wallet (404) and a non-JSON body (415) bare.
    body = _json_object(response)
    assert body.get("errorCode") in SANDBOX_ERROR_CODES
    assert isinstance(body.get("errorMessage", ""), str)


def oauth_error(response: httpx.Response) -> None:
    body = _json_object(response)
    assert body.get("error") in OAUTH_ERROR_CODES


# -- what a refused write must leave alone ---------------------------------------------------

State = Callable[[Target, Known], Any]


class Unchanged:
    """Reads `state` after each request; after a 4xx it must equal what it was before."""

    def __init__(self, state: State, target: Target, known: Known) -> None:
        self.read = lambda: state(target, known)
        self.last = self.read()

    def check(self, request: HostileRequest, response: httpx.Response) -> None:
        current = self.read()
        refused = response.status_code >= 400
        before, self.last = self.last, current
        assert not refused or current == before, (
            f"{request!r} answered {response.status_code} but wrote:\n"
            f"before: {_shortened(before, 2_000)}\nafter:  {_shortened(current, 2_000)}"
        )


def _every_page(target: Target, path: str, filters: str = "") -> list[Any]:
    """Every item of a cursor-paginated sandbox list."""
    items: list[Any] = []
    query = f"pageSize=100{filters}"
    while True:
        cursor = target.read(f"{path}?{query}")["cursor"]
        items += cursor["data"]
        if not cursor.get("next"):
            return items
        query = f"cursor={cursor['next']}"


def workflows(target: Target, _known: Known) -> Any:
    return len(target.read("/workflows")["data"])


def instances_of_workflow(target: Target, known: Known) -> Any:
    return len(target.read(f"/instances?workflowID={known['workflow_id']}")["data"])


def waiting_instance(target: Target, known: Known) -> Any:
    return target.read(f"/instances/{known['instance_id']}")["data"]


def triggers(target: Target, _known: Known) -> Any:
    return len(target.read("/triggers")["data"])


def occurrences(target: Target, known: Known) -> Any:
    return len(target.read(f"/triggers/{known['trigger_id']}/occurrences")["data"])


def ledgers(target: Target, _known: Known) -> Any:
    return sorted(ledger["name"] for ledger in _every_page(target, "/api/ledger/v2"))


def fuzz_ledger(target: Target, known: Known) -> Any:
    path = f"/api/ledger/v2/{known['ledger']}"
    return _every_page(target, f"{path}/transactions"), target.read(f"{path}/aggregate/balances")


def fuzz_ledger_accounts(target: Target, known: Known) -> Any:
    return _every_page(target, f"/api/ledger/v2/{known['ledger']}/accounts")


def wallets(target: Target, _known: Known) -> Any:
    return _every_page(target, "/api/wallets/wallets")


def fuzz_wallet(target: Target, known: Known) -> Any:
    wallet_id = known["wallet_id"]
    return (
        target.read(f"/api/wallets/wallets/{wallet_id}"),
        target.read(f"/api/wallets/wallets/{wallet_id}/balances"),
        _every_page(target, "/api/wallets/holds", f"&walletID={wallet_id}"),
    )


def payments(target: Target, _known: Known) -> Any:
    return _every_page(target, "/api/payments/payments")


def payment_accounts(target: Target, _known: Known) -> Any:
    return _every_page(target, "/api/payments/accounts")


def transfer_initiations(target: Target, _known: Known) -> Any:
    return _every_page(target, "/api/payments/transfer-initiations")


# -- endpoints -------------------------------------------------------------------------------

V1_AND_V2 = ("", "/api/orchestration", "/v2", "/api/orchestration/v2")
V2_ONLY = ("/v2", "/api/orchestration/v2")
PAGED = ("pageSize", "cursor")
JSON_MOSTLY = st.one_of(st.just(b"application/json"), st.just(b"application/json"), hostile_content_types())


@dataclass(frozen=True)
class Endpoint:
    """One route of the API or of the sandbox, and what to send it."""

    method: str
    path: str
    """With `{placeholders}` for ids: a real one from `Known` when listed in `known`, else a
    hostile segment."""
    body: Any = None
    """A valid body, mutated into hostile ones; None: the endpoint reads no JSON body."""
    targeted: tuple[tuple[str, ...], ...] = ()
    """Places in `body` that also get values from `targeted_values`."""
    targeted_values: st.SearchStrategy[Any] | None = None
    raw_bodies: st.SearchStrategy[bytes] | None = None
    """Bodies beyond JSON mutations (YAML, forms)."""
    known: tuple[str, ...] = ()
    query: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    content_types: st.SearchStrategy[bytes | None] = JSON_MOSTLY
    mounts: tuple[str, ...] = ("",)
    state: State | None = None
    """What a refused request must leave unchanged."""
    error: Callable[[httpx.Response], None] = sandbox_error
    examples: int = EXAMPLES
    label: str = ""
    emulates_wallets_500: bool = False
    """Wallets 2.2 answers some caller mistakes (an unknown balance to debit, a reused reference)
    with 500 INTERNAL_ERROR, and the sandbox copies that so the send stage's retries meet what
    production sends (docs/sandbox.md); such an answer is allowed, provided nothing was written."""

    def __str__(self) -> str:
        return f"{self.method} {self.path}{f' ({self.label})' if self.label else ''}"


def _filled(template: Any, known: Known) -> Any:
    """`template` with every string `"{name}"` replaced by the known id of that name."""
    if isinstance(template, dict):
        return {key: _filled(value, known) for key, value in template.items()}
    if isinstance(template, list):
        return [_filled(value, known) for value in template]
    if isinstance(template, str) and template.startswith("{") and template.endswith("}"):
        return known.get(template[1:-1], template)
    return template


def _query_value(name: str) -> st.SearchStrategy[str]:
    if name == "cursor":
        return hostile_cursors()
    if name == "pageSize":
        return st.one_of(st.sampled_from(ODD_PAGE_SIZES), hostile_query_values())
    return hostile_query_values()


@st.composite
def hostile_requests(draw: st.DrawFn, endpoint: Endpoint, known: Known) -> HostileRequest:
    """A request to `endpoint`: on one of its mounts, odd or real ids in the path, some of its
    query parameters and headers with hostile values, one kind of hostile body."""

    def segment(match: re.Match[str]) -> str:
        name = match[1]
        if name in endpoint.known:
            return draw(st.one_of(st.just(percent_encoded(known[name])), hostile_segments()))
        return draw(hostile_segments())

    path = draw(st.sampled_from(endpoint.mounts)) + re.sub(r"\{(\w+)\}", segment, endpoint.path)
    names = draw(st.lists(st.sampled_from(endpoint.query), unique=True)) if endpoint.query else []
    query = "&".join(f"{name}={draw(_query_value(name))}" for name in names)
    bodies: list[st.SearchStrategy[bytes | None]] = []
    if endpoint.body is not None:
        valid = _filled(endpoint.body, known)
        bodies.append(hostile_bodies(valid))
        if endpoint.targeted_values is not None:
            bodies.append(documents_with(valid, endpoint.targeted, endpoint.targeted_values))
    bodies += [endpoint.raw_bodies] if endpoint.raw_bodies is not None else []
    if not bodies:
        bodies = [st.none(), st.none(), hostile_documents()]
    body = draw(draw(st.sampled_from(bodies)))  # each kind of body equally often
    headers = [(name, draw(hostile_header_values())) for name in endpoint.headers if draw(st.booleans())]
    content_type = draw(endpoint.content_types) if body is not None else None
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    return HostileRequest(endpoint.method, path + (f"?{query}" if query else ""), body, tuple(headers))


def fuzz(endpoint: Endpoint, target: Target, known: Known) -> None:
    """Send `endpoint.examples` hostile requests to `endpoint`, checking every answer."""
    unchanged = Unchanged(endpoint.state, target, known) if endpoint.state else None

    @settings(FUZZ, max_examples=endpoint.examples)
    @given(request=hostile_requests(endpoint, known))
    def answers_without_harm(request: HostileRequest) -> None:
        response = target.send(request)
        context = f"{request!r}\n→ {response.status_code} {_shortened(response.text, 1_000)}"
        assert response.status_code < 500 or (
            endpoint.emulates_wallets_500 and response.content == WALLETS_INTERNAL_ERROR
        ), f"{context}\n{target.log_tail()}"
        if 400 <= response.status_code < 500:
            try:
                endpoint.error(response)
            except (AssertionError, ValueError) as error:
                pytest.fail(f"{context}\nnot the error envelope: {error!r}")
        if unchanged is not None:
            unchanged.check(request, response)

    answers_without_harm()


# -- the orchestration API -------------------------------------------------------------------

VALID_WORKFLOW = {
    "name": "fuzz",
    "stages": [
        {"noop": {}},
        {"delay": {"duration": "1s"}},
        {"wait_event": {"event": "${event}"}},
        {
            "send": {
                "source": {"account": {"id": "world", "ledger": "fuzz"}},
                "destination": {"wallet": {"name": "${wallet}", "balance": "main"}},
                "amount": {"amount": 100, "asset": "USD/2"},
                "metadata": {"reason": "fuzz"},
                "timestamp": "2024-01-01T00:00:00Z",
            }
        },
        {"update": {"account": {"id": "users:1", "ledger": "fuzz", "metadata": {"k": "v"}}}},
    ],
}
VALID_TRIGGER = {
    "event": "FUZZ_EVENT",
    "workflowID": "{trigger_workflow_id}",
    "name": "fuzz",
    "version": "v2",
    "filter": 'event.amount > 0 && event.who matches "^[a-z]+$"',
    "vars": {
        "who": "event.who",
        "amount": "string(event.amount * 2)",
        "parsed": "toJSON(fromJSON(event.raw))",
    },
}
VALID_PAYLOAD = {"amount": 5, "who": "alice", "raw": '{"a": [1]}', "tags": ["a"]}
VALID_ENVELOPE = {
    "type": "FUZZ_EVENT",
    "app": "ledger",
    "version": "v2",
    "date": "2024-01-01T00:00:00Z",
    "idempotency_key": "fuzz",
    "payload": VALID_PAYLOAD,
}
YAML_TYPES = st.sampled_from([b"application/yaml", b"text/vnd.yaml", b"application/x-yaml", b"text/yaml"])
WORKFLOWS = [
    Endpoint("GET", "/workflows", query=PAGED, mounts=V1_AND_V2, error=api_error),
    Endpoint(
        "POST", "/workflows", body=VALID_WORKFLOW, mounts=V1_AND_V2, state=workflows, error=api_error,
        examples=MANY_EXAMPLES, label="JSON",
    ),
    Endpoint(
        "POST", "/workflows", body=VALID_WORKFLOW, raw_bodies=hostile_yaml(), content_types=YAML_TYPES,
        mounts=V1_AND_V2, state=workflows, error=api_error, label="YAML",
    ),
    Endpoint("GET", "/workflows/{workflow_id}", known=("workflow_id",), mounts=V1_AND_V2, error=api_error),
    Endpoint("DELETE", "/workflows/{workflow_id}", mounts=V1_AND_V2, state=workflows, error=api_error),
    Endpoint(
        "POST", "/workflows/{workflow_id}/instances", body={"event": "go", "wallet": "alice"},
        known=("workflow_id",), query=("wait",), headers=("Idempotency-Key",), mounts=V1_AND_V2,
        state=instances_of_workflow, error=api_error,
    ),
]  # fmt: skip
INSTANCES = [
    Endpoint(
        "GET", "/instances", query=(*PAGED, "workflowID", "running"), mounts=V1_AND_V2, error=api_error
    ),
    Endpoint("GET", "/instances/{instance_id}", known=("instance_id",), mounts=V1_AND_V2, error=api_error),
    Endpoint(
        "POST", "/instances/{instance_id}/events", body={"name": "fuzz"}, known=("instance_id",),
        headers=("Idempotency-Key",), mounts=V1_AND_V2, state=waiting_instance, error=api_error,
    ),
    Endpoint(
        "PUT", "/instances/{instance_id}/abort", mounts=V1_AND_V2, state=waiting_instance, error=api_error
    ),
    Endpoint(
        "GET", "/instances/{instance_id}/history", known=("instance_id",), mounts=V1_AND_V2, error=api_error
    ),
    Endpoint(
        "GET", "/instances/{instance_id}/stages/{number}/history", known=("instance_id", "number"),
        mounts=V1_AND_V2, error=api_error,
    ),
]  # fmt: skip
TRIGGERS = [
    Endpoint("GET", "/triggers", query=(*PAGED, "name"), mounts=V1_AND_V2, error=api_error),
    Endpoint(
        "POST", "/triggers", body=VALID_TRIGGER, targeted=(("filter",), ("vars", "who")),
        targeted_values=hostile_expressions(), mounts=V1_AND_V2, state=triggers, error=api_error,
        examples=MANY_EXAMPLES,
    ),
    Endpoint("GET", "/triggers/{trigger_id}", known=("trigger_id",), mounts=V1_AND_V2, error=api_error),
    Endpoint("DELETE", "/triggers/{trigger_id}", mounts=V1_AND_V2, state=triggers, error=api_error),
    Endpoint(
        "GET", "/triggers/{trigger_id}/occurrences", known=("trigger_id",), query=PAGED,
        mounts=V1_AND_V2, error=api_error,
    ),
    Endpoint(
        "POST", "/triggers/{trigger_id}/test", body=VALID_PAYLOAD, known=("trigger_id",), mounts=V2_ONLY,
        state=occurrences, error=api_error,
    ),
]  # fmt: skip
EVENTS = [
    Endpoint(
        "POST", "/events", body=VALID_ENVELOPE, headers=("Message-Uuid", "Message-Metadata"),
        mounts=("", "/api/orchestration"), state=occurrences, error=api_error,
    ),
]  # fmt: skip


@pytest.fixture(scope="module")
def api_target(sqlite_service: FlowsProcess) -> Iterator[Target]:
    yield from _target(sqlite_service)


def _created(target: Target, path: str, body: Any) -> Any:
    response = target.client.post(target.service.url + path, json=body)
    assert response.status_code in (200, 201, 204), f"POST {path}: {response.status_code} {response.text}"
    return response.json()["data"] if response.content else None


@pytest.fixture(scope="module")
def orchestration_ids(api_target: Target) -> Known:
    """A noop workflow to run, an instance waiting for an event nobody sends, and a trigger on
    FUZZ_EVENT starting a workflow of its own (so that fired triggers leave the run counts be)."""
    noop: dict[str, Any] = {"stages": [{"noop": {}}]}
    workflow_id = _created(api_target, "/workflows", noop)["id"]
    trigger_workflow_id = _created(api_target, "/workflows", noop)["id"]
    waiting = _created(api_target, "/workflows", {"stages": [{"wait_event": {"event": "never sent"}}]})
    instance_id = _created(api_target, f"/workflows/{waiting['id']}/instances", {})["id"]
    eventually(lambda: waiting_instance(api_target, {"instance_id": instance_id}).get("status"))
    known = {"trigger_workflow_id": trigger_workflow_id}
    trigger_id = _created(api_target, "/triggers", _filled(VALID_TRIGGER, known))["id"]
    return {
        "workflow_id": workflow_id,
        "trigger_workflow_id": trigger_workflow_id,
        "instance_id": instance_id,
        "number": "0",
        "trigger_id": trigger_id,
    }


@pytest.mark.parametrize("endpoint", WORKFLOWS, ids=str)
def test_workflow_endpoints(endpoint: Endpoint, api_target: Target, orchestration_ids: Known) -> None:
    fuzz(endpoint, api_target, orchestration_ids)


@pytest.mark.parametrize("endpoint", INSTANCES, ids=str)
def test_instance_endpoints(endpoint: Endpoint, api_target: Target, orchestration_ids: Known) -> None:
    fuzz(endpoint, api_target, orchestration_ids)


@pytest.mark.parametrize("endpoint", TRIGGERS, ids=str)
def test_trigger_endpoints(endpoint: Endpoint, api_target: Target, orchestration_ids: Known) -> None:
    fuzz(endpoint, api_target, orchestration_ids)


@pytest.mark.parametrize("endpoint", EVENTS, ids=str)
def test_event_ingestion(endpoint: Endpoint, api_target: Target, orchestration_ids: Known) -> None:
    fuzz(endpoint, api_target, orchestration_ids)


# -- the token endpoint and bearer tokens (a service with auth on) ---------------------------

CLIENT_ID, CLIENT_SECRET = next(iter(AUTH_CLIENTS.items()))
FORM_FIELDS = ("grant_type", "client_id", "client_secret", "scope", "audience")
GOOD_FORM_VALUES = ("client_credentials", CLIENT_ID, CLIENT_SECRET, "orchestration:read ledger:write")


@st.composite
def hostile_forms(draw: st.DrawFn) -> bytes:
    """Client-credentials forms with some fields hostile, repeated or missing, or broken forms."""
    values = st.one_of(st.sampled_from(GOOD_FORM_VALUES), hostile_query_values())
    pairs = draw(st.lists(st.tuples(st.sampled_from(FORM_FIELDS), values), max_size=6))
    form = "&".join(f"{name}={value}" for name, value in pairs).encode()
    broken = [b"%zz=1", b"\xff=\xfe", b"a=1&" * 100, b"x" * 20_000, b"grant_type", b"&&&="]
    return draw(st.one_of(st.just(form), st.just(form), st.sampled_from(broken)))


@st.composite
def hostile_authorizations(draw: st.DrawFn) -> bytes:
    """Authorization headers: Basic and Bearer with hostile credentials, and odd schemes."""
    scheme = draw(st.sampled_from([b"Basic ", b"Bearer ", b"bearer ", b"Token ", b""]))
    return scheme + draw(
        st.one_of(
            hostile_header_values(),
            st.builds(str.encode, hostile_cursors()),
            st.just(b"eyJhbGciOiJub25lIn0.eyJzY29wZSI6IioifQ."),  # alg "none", scope "*"
        )
    )


FORM_MOSTLY = st.one_of(st.just(b"application/x-www-form-urlencoded"), hostile_content_types())
AUTH = [
    Endpoint(
        "POST", "/api/auth/oauth/token", raw_bodies=hostile_forms(), headers=("Authorization",),
        content_types=FORM_MOSTLY, error=oauth_error,
    ),
]  # fmt: skip


@pytest.fixture(scope="module")
def auth_target(auth_service: FlowsProcess) -> Iterator[Target]:
    yield from _target(auth_service)


@pytest.mark.parametrize("endpoint", AUTH, ids=str)
def test_token_endpoint(endpoint: Endpoint, auth_target: Target) -> None:
    fuzz(endpoint, auth_target, {})


@settings(FUZZ, max_examples=EXAMPLES)
@given(authorization=hostile_authorizations(), path=st.sampled_from(["/workflows", "/api/ledger/v2"]))
def test_bearer_tokens(auth_target: Target, authorization: bytes, path: str) -> None:
    request = HostileRequest("GET", path, headers=(("Authorization", authorization),))
    response = auth_target.send(request)
    assert response.status_code in (401, 403), f"{request!r} → {response.status_code} {response.text}"
    api_error(response)


# -- the sandbox stack -----------------------------------------------------------------------

LEDGER_QUERY = (*PAGED, "expand", "query")
LEDGER_FILTER = {"$and": [{"$match": {"address": "users:"}}, {"$not": {"$exists": {"metadata": "k"}}}]}
VALID_POSTINGS = {
    "postings": [{"source": "world", "destination": "users:1", "amount": 100, "asset": "USD/2"}],
    "metadata": {"k": "v"},
    "timestamp": "2024-01-01T00:00:00Z",
    "reference": "fuzz-ref",
    "accountMetadata": {"users:1": {"k": "v"}},
}
VALID_SCRIPT = {
    "script": {
        "plain": "vars { monetary $m }\nsend $m (\n  source = @world\n  destination = @users:1\n)",
        "vars": {"m": "USD/2 100"},
    },
    "metadata": {"k": "v"},
}
LEDGER = [
    Endpoint("GET", "/api/ledger/v2", query=PAGED),
    Endpoint("GET", "/api/ledger/v2/{ledger}", known=("ledger",)),
    Endpoint(
        "POST", "/api/ledger/v2/{ledger}", body={"bucket": "fuzz", "metadata": {"k": "v"}, "features": {}},
        state=ledgers,
    ),
    Endpoint(
        "GET", "/api/ledger/v2/{ledger}/transactions", body=LEDGER_FILTER, known=("ledger",),
        query=LEDGER_QUERY,
    ),
    Endpoint(
        "POST", "/api/ledger/v2/{ledger}/transactions", body=VALID_POSTINGS, known=("ledger",),
        query=("force", "dryRun"), headers=("Idempotency-Key",), state=fuzz_ledger, label="postings",
    ),
    Endpoint(
        "POST", "/api/ledger/v2/{ledger}/transactions", body=VALID_SCRIPT, known=("ledger",),
        query=("force", "dryRun"), headers=("Idempotency-Key",), state=fuzz_ledger, label="numscript",
    ),
    Endpoint(
        "GET", "/api/ledger/v2/{ledger}/transactions/{transaction_id}", known=("ledger", "transaction_id"),
        query=("expand",),
    ),
    Endpoint(
        "POST", "/api/ledger/v2/{ledger}/transactions/{transaction_id}/revert", body={"metadata": {"k": "v"}},
        known=("ledger", "transaction_id"), query=("force", "atEffectiveDate", "dryRun"),
        headers=("Idempotency-Key",), state=fuzz_ledger,
    ),
    Endpoint(
        "GET", "/api/ledger/v2/{ledger}/accounts", body=LEDGER_FILTER, known=("ledger",), query=LEDGER_QUERY
    ),
    Endpoint(
        "GET", "/api/ledger/v2/{ledger}/accounts/{address}", known=("ledger", "address"), query=("expand",)
    ),
    Endpoint(
        "POST", "/api/ledger/v2/{ledger}/accounts/{address}/metadata", body={"k": "v"},
        known=("ledger", "address"), query=("dryRun",), headers=("Idempotency-Key",),
        state=fuzz_ledger_accounts,
    ),
    Endpoint(
        "GET", "/api/ledger/v2/{ledger}/aggregate/balances", body=LEDGER_FILTER, known=("ledger",),
        query=("query",),
    ),
    Endpoint("GET", "/api/ledger/{ledger}/accounts/{address}", known=("ledger", "address"), label="v1"),
]  # fmt: skip

WALLET_QUERY = (*PAGED, "name", "expand", "metadata[k]")
USD_100 = {"amount": 100, "asset": "USD/2"}
WALLETS_INTERNAL_ERROR = b'{"errorCode":"INTERNAL_ERROR","errorMessage":"internal server error"}\n'
WALLETS = [
    Endpoint("GET", "/api/wallets/_info"),
    Endpoint("GET", "/api/wallets/wallets", query=WALLET_QUERY),
    Endpoint(
        "POST", "/api/wallets/wallets", body={"name": "fuzz", "metadata": {"k": "v"}},
        headers=("Idempotency-Key",), state=wallets,
    ),
    Endpoint("GET", "/api/wallets/wallets/{wallet_id}", known=("wallet_id",)),
    Endpoint(
        "PATCH", "/api/wallets/wallets/{wallet_id}", body={"metadata": {"k": "v"}}, known=("wallet_id",),
        state=fuzz_wallet,
    ),
    Endpoint(
        "POST", "/api/wallets/wallets/{wallet_id}/credit",
        body={
            "amount": USD_100, "balance": "main", "sources": [{"type": "ACCOUNT", "identifier": "world"}],
            "metadata": {"k": "v"}, "reference": "fuzz", "timestamp": "2024-01-01T00:00:00Z",
        },
        known=("wallet_id",), headers=("Idempotency-Key",), state=fuzz_wallet,
        emulates_wallets_500=True,
    ),
    Endpoint(
        "POST", "/api/wallets/wallets/{wallet_id}/debit",
        body={
            "amount": {"amount": 1, "asset": "USD/2"}, "pending": True, "balances": ["main"],
            "destination": {"type": "ACCOUNT", "identifier": "world"}, "description": "fuzz",
            "metadata": {"k": "v"},
        },
        known=("wallet_id",), headers=("Idempotency-Key",), state=fuzz_wallet,
        emulates_wallets_500=True,
    ),
    Endpoint("GET", "/api/wallets/wallets/{wallet_id}/balances", known=("wallet_id",)),
    Endpoint(
        "POST", "/api/wallets/wallets/{wallet_id}/balances",
        body={"name": "savings", "priority": 1, "expiresAt": "2999-01-01T00:00:00Z"},
        known=("wallet_id",), state=fuzz_wallet,
    ),
    Endpoint("GET", "/api/wallets/wallets/{wallet_id}/balances/{balance}", known=("wallet_id", "balance")),
    Endpoint("GET", "/api/wallets/holds", query=(*PAGED, "walletID", "metadata[k]")),
    Endpoint("GET", "/api/wallets/holds/{hold_id}", known=("hold_id",)),
    Endpoint(
        "POST", "/api/wallets/holds/{hold_id}/confirm", body={"amount": 1, "final": True}, known=("hold_id",),
        headers=("Idempotency-Key",), state=fuzz_wallet,
    ),
    Endpoint(
        "POST", "/api/wallets/holds/{hold_id}/void", known=("hold_id",), headers=("Idempotency-Key",),
        state=fuzz_wallet,
    ),
]  # fmt: skip

VALID_PAYMENT = {
    "reference": "fuzz-payment",
    "connectorID": "{connector_id}",
    "type": "PAY-IN",
    "status": "SUCCEEDED",
    "scheme": "visa",
    "asset": "EUR/2",
    "amount": 2500,
    "createdAt": "2024-01-01T00:00:00Z",
    "sourceAccountID": "",
    "destinationAccountID": "",
    "metadata": {"k": "v"},
}
VALID_PAYMENT_ACCOUNT = {
    "reference": "fuzz-account",
    "connectorID": "{connector_id}",
    "type": "INTERNAL",
    "defaultAsset": "EUR/2",
    "accountName": "fuzz",
    "createdAt": "2024-01-01T00:00:00Z",
    "metadata": {"k": "v"},
}
VALID_TRANSFER = {
    "reference": "fuzz-transfer",
    "type": "TRANSFER",
    "amount": 100,
    "asset": "EUR/2",
    "connectorID": "{connector_id}",
    "sourceAccountID": "{account_id}",
    "destinationAccountID": "{account_id}",
    "description": "fuzz",
    "validated": False,
    "scheduledAt": "2999-01-01T00:00:00Z",
    "metadata": {"k": "v"},
}
PAYMENTS = [
    Endpoint("GET", "/api/payments/_info"),
    Endpoint("GET", "/api/payments/connectors"),
    Endpoint("GET", "/api/payments/payments", query=PAGED),
    Endpoint("POST", "/api/payments/payments", body=VALID_PAYMENT, state=payments),
    Endpoint("GET", "/api/payments/payments/{payment_id}", known=("payment_id",)),
    Endpoint(
        "PATCH", "/api/payments/payments/{payment_id}/metadata", body={"k": "v"}, known=("payment_id",),
        state=payments,
    ),
    Endpoint("GET", "/api/payments/accounts", query=PAGED),
    Endpoint("POST", "/api/payments/accounts", body=VALID_PAYMENT_ACCOUNT, state=payment_accounts),
    Endpoint("GET", "/api/payments/accounts/{account_id}", known=("account_id",)),
    Endpoint("GET", "/api/payments/transfer-initiations", query=PAGED),
    Endpoint("POST", "/api/payments/transfer-initiations", body=VALID_TRANSFER, state=transfer_initiations),
    Endpoint("GET", "/api/payments/transfer-initiations/{transfer_id}", known=("transfer_id",)),
    Endpoint(
        "POST", "/api/payments/transfer-initiations/{transfer_id}/status", body={"status": "REJECTED"},
        known=("transfer_id",), state=transfer_initiations,
    ),
]  # fmt: skip


@pytest.fixture(scope="module")
def sandbox_ids(api_target: Target) -> Known:
    """A ledger of the fuzz's own with one transaction, a funded wallet with a hold, a payment,
    a payments account and a transfer initiation waiting for validation."""
    tag = uuid.uuid4().hex[:8]  # the session's service may have seen other tests' objects
    ledger = f"fuzz-{tag}"
    response = api_target.client.post(f"{api_target.service.url}/api/ledger/v2/{ledger}", json={})
    assert response.status_code == 204, response.text
    transaction = _created(api_target, f"/api/ledger/v2/{ledger}/transactions", VALID_POSTINGS)
    wallet = _created(api_target, "/api/wallets/wallets", {"name": "fuzz-wallet"})
    credit = {"amount": {"amount": 1_000, "asset": "USD/2"}}
    _created(api_target, f"/api/wallets/wallets/{wallet['id']}/credit", credit)
    hold = _created(api_target, f"/api/wallets/wallets/{wallet['id']}/debit", {**credit, "pending": True})
    connectors = api_target.read("/api/payments/connectors")["data"]
    known = {"connector_id": next(c["connectorID"] for c in connectors if c["provider"] == "STRIPE")}
    payment = _created(api_target, "/api/payments/payments", _filled(VALID_PAYMENT, known))
    account = _created(api_target, "/api/payments/accounts", _filled(VALID_PAYMENT_ACCOUNT, known))
    known["account_id"] = account["id"]
    transfer_body = {**_filled(VALID_TRANSFER, known), "reference": f"fuzz-transfer-{tag}"}
    transfer = _created(api_target, "/api/payments/transfer-initiations", transfer_body)
    return {
        **known,
        "ledger": ledger,
        "transaction_id": str(transaction["id"]),
        "address": "users:1",
        "wallet_id": wallet["id"],
        "balance": "main",
        "hold_id": hold["id"],
        "payment_id": payment["id"],
        "transfer_id": transfer["id"],
    }


@pytest.mark.parametrize("endpoint", LEDGER, ids=str)
def test_ledger_endpoints(endpoint: Endpoint, api_target: Target, sandbox_ids: Known) -> None:
    fuzz(endpoint, api_target, sandbox_ids)


@pytest.mark.parametrize("endpoint", WALLETS, ids=str)
def test_wallet_endpoints(endpoint: Endpoint, api_target: Target, sandbox_ids: Known) -> None:
    fuzz(endpoint, api_target, sandbox_ids)


@pytest.mark.parametrize("endpoint", PAYMENTS, ids=str)
def test_payment_endpoints(endpoint: Endpoint, api_target: Target, sandbox_ids: Known) -> None:
    fuzz(endpoint, api_target, sandbox_ids)
