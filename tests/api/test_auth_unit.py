"""Unit tests of flows.api.auth / flows.api.tokens on a tiny Starlette app (in-process ASGI).

The full API is tested elsewhere over real HTTP with the official SDK; here every branch of the
token endpoint and the middleware is driven directly.
"""

from __future__ import annotations

import base64
import os
import stat
import time
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flows.api.auth import (
    TOKEN_PATH,
    AuthMiddleware,
    default_exempt,
    request_claims,
    required_scopes,
    token_route,
)
from flows.api.tokens import (
    AuthClient,
    InvalidToken,
    TokenIssuer,
    client_with_scopes,
    given_secret,
    load_clients,
    load_or_create_signing_key,
    signing_key_from_setting,
)
from flows.composition import SCOPES

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
CLIENTS = [
    AuthClient("app", "s3cret", SCOPES),
    AuthClient("other", "pa+ss:word", SCOPES),
    AuthClient("reader", "r3ad", ("orchestration:read",)),
    AuthClient("orchestrator", "0rch", ("orchestration:read", "orchestration:write")),
]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def whoami(request: Request) -> JSONResponse:
    claims = request_claims(request)
    return JSONResponse({"sub": claims.subject if claims else None})


async def info(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def build_app(issuer: TokenIssuer) -> Starlette:
    app = Starlette(
        routes=[
            token_route(issuer),
            Route("/workflows", whoami, methods=["GET", "POST", "HEAD", "OPTIONS", "DELETE"]),
            Route("/api/orchestration/v2/_info", info),
            Route("/_healthcheck", info),
            Route("/v2/_info/", info),
        ]
    )
    app.add_middleware(AuthMiddleware, issuer=issuer)
    return app


def client_for(issuer: TokenIssuer) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=build_app(issuer))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
def issuer() -> TokenIssuer:
    return TokenIssuer(KEY, CLIENTS, issuer="flows", scopes=SCOPES)


@pytest.fixture
async def client(issuer: TokenIssuer) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(issuer) as c:
        yield c


@pytest.fixture
async def open_client() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(TokenIssuer(KEY, [], issuer="flows", scopes=SCOPES)) as c:
        yield c


async def get_token(client: httpx.AsyncClient, scope: str | None = None, **form: str) -> str:
    data = {"grant_type": "client_credentials", "client_id": "app", "client_secret": "s3cret"}
    if scope is not None:
        data["scope"] = scope
    data.update(form)
    response = await client.post(TOKEN_PATH, data=data)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_envelope(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["errorCode"] == "VALIDATION"
    assert body["errorMessage"]
    return body


# --------------------------------------------------------------------------- token endpoint


async def test_token_with_good_credentials(client: httpx.AsyncClient) -> None:
    response = await client.post(
        TOKEN_PATH,
        data={
            "grant_type": "client_credentials",
            "client_id": "app",
            "client_secret": "s3cret",
            "scope": "orchestration:read",
        },
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "orchestration:read"
    claims = jwt.decode(body["access_token"], KEY, algorithms=["HS256"], issuer="flows", audience="flows")
    assert claims["sub"] == "app"
    assert claims["scope"] == "orchestration:read"
    assert claims["exp"] - claims["iat"] == 3600
    assert len(claims["jti"]) == 32
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"


async def test_token_wrong_secret(client: httpx.AsyncClient) -> None:
    response = await client.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials", "client_id": "app", "client_secret": "nope"},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_token_unknown_client_and_missing_credentials(client: httpx.AsyncClient) -> None:
    unknown = await client.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials", "client_id": "who", "client_secret": "s3cret"},
    )
    missing = await client.post(TOKEN_PATH, data={"grant_type": "client_credentials"})
    for response in (unknown, missing):
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert response.headers["www-authenticate"].startswith("Basic")


async def test_token_with_http_basic(client: httpx.AsyncClient) -> None:
    # RFC 6749 §2.3.1: both parts form-encoded before Basic (":" and "+" in the secret here).
    encoded = base64.b64encode(b"other:pa%2Bss%3Aword").decode()
    response = await client.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {encoded}"},
    )
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["access_token"], KEY, algorithms=["HS256"], audience="flows")
    assert claims["sub"] == "other"


async def test_token_with_unencoded_http_basic(client: httpx.AsyncClient) -> None:
    # What `curl -u other:pa+ss:word` sends: a raw "+" must not become a space.
    response = await client.post(
        TOKEN_PATH, data={"grant_type": "client_credentials"}, auth=("other", "pa+ss:word")
    )
    assert response.status_code == 200, response.text


async def test_token_basic_with_wrong_secret(client: httpx.AsyncClient) -> None:
    response = await client.post(
        TOKEN_PATH, data={"grant_type": "client_credentials"}, auth=("app", "bad")
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_token_basic_and_body_secret_is_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials", "client_secret": "s3cret"},
        auth=("app", "s3cret"),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("requested", "granted"),
    [
        ("orchestration:read", "orchestration:read"),
        ("orchestration:write ledger:read", "orchestration:write ledger:read"),
        ("orchestration:read bogus:scope", "orchestration:read"),
        ("openid orchestration:write", "openid orchestration:write"),
        ("", " ".join(SCOPES)),
        (None, " ".join(SCOPES)),
    ],
)
async def test_token_scope_intersection(
    client: httpx.AsyncClient, requested: str | None, granted: str
) -> None:
    data = {"grant_type": "client_credentials", "client_id": "app", "client_secret": "s3cret"}
    if requested is not None:
        data["scope"] = requested
    response = await client.post(TOKEN_PATH, data=data)
    assert response.status_code == 200
    assert response.json()["scope"] == granted
    claims = jwt.decode(response.json()["access_token"], KEY, algorithms=["HS256"], audience="flows")
    assert claims["scope"] == granted


async def test_token_invalid_scope(client: httpx.AsyncClient) -> None:
    response = await client.post(
        TOKEN_PATH,
        data={
            "grant_type": "client_credentials",
            "client_id": "app",
            "client_secret": "s3cret",
            "scope": "admin superuser",
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_token_unsupported_grant(client: httpx.AsyncClient) -> None:
    response = await client.post(
        TOKEN_PATH,
        data={"grant_type": "password", "client_id": "app", "client_secret": "s3cret"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_token_missing_grant_and_bad_bodies(client: httpx.AsyncClient) -> None:
    missing = await client.post(
        TOKEN_PATH, data={"client_id": "app", "client_secret": "s3cret"}
    )
    as_json = await client.post(
        TOKEN_PATH, json={"grant_type": "client_credentials", "client_id": "app"}
    )
    repeated = await client.post(
        TOKEN_PATH,
        content="grant_type=client_credentials&client_id=app&client_id=app&client_secret=s3cret",
        headers=FORM,
    )
    not_utf8 = await client.post(TOKEN_PATH, content=b"grant_type=\xff", headers=FORM)
    for response in (missing, as_json, repeated, not_utf8):
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_request"
    too_big = await client.post(TOKEN_PATH, content=b"a=" + b"x" * 20_000, headers=FORM)
    assert too_big.status_code == 413


async def test_token_endpoint_get_is_405(client: httpx.AsyncClient) -> None:
    assert (await client.get(TOKEN_PATH)).status_code == 405


# --------------------------------------------------------------------------- auth off


async def test_auth_off_issues_tokens_to_anyone(open_client: httpx.AsyncClient) -> None:
    with_creds = await open_client.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials", "client_id": "sdk", "client_secret": "x"},
    )
    anonymous = await open_client.post(TOKEN_PATH, data={"grant_type": "client_credentials"})
    assert with_creds.status_code == 200
    assert anonymous.status_code == 200
    assert jwt.decode(with_creds.json()["access_token"], KEY, algorithms=["HS256"], audience="flows")["sub"] == "sdk"
    # Grant type and scope rules still hold.
    bad_grant = await open_client.post(TOKEN_PATH, data={"grant_type": "implicit"})
    assert bad_grant.json()["error"] == "unsupported_grant_type"


async def test_auth_off_lets_requests_through(open_client: httpx.AsyncClient) -> None:
    assert (await open_client.get("/workflows")).status_code == 200
    assert (await open_client.post("/workflows")).status_code == 200
    garbage = await open_client.get("/workflows", headers=bearer("garbage"))
    assert garbage.status_code == 200


# --------------------------------------------------------------------------- middleware


async def test_missing_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/workflows")
    body = assert_envelope(response, 401)
    assert "missing bearer token" in body["errorMessage"]
    assert response.headers["www-authenticate"] == "Bearer"


async def test_garbage_token_is_401(client: httpx.AsyncClient) -> None:
    for headers in (bearer("garbage"), {"Authorization": "Basic YXBwOnMzY3JldA=="}, bearer("")):
        response = await client.get("/workflows", headers=headers)
        assert_envelope(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"


async def test_expired_token_is_401(client: httpx.AsyncClient) -> None:
    past = TokenIssuer(KEY, CLIENTS, issuer="flows", clock=lambda: time.time() - 7200)
    token = past.issue("app", ["orchestration:write"]).access_token
    body = assert_envelope(await client.get("/workflows", headers=bearer(token)), 401)
    assert "expired" in body["errorMessage"]


async def test_token_signed_with_another_key_is_401(client: httpx.AsyncClient) -> None:
    foreign = TokenIssuer(OTHER_KEY, CLIENTS, issuer="flows")
    token = foreign.issue("app", ["orchestration:write"]).access_token
    body = assert_envelope(await client.get("/workflows", headers=bearer(token)), 401)
    assert "signature" in body["errorMessage"]


async def test_token_of_another_issuer_is_401(client: httpx.AsyncClient) -> None:
    token = TokenIssuer(KEY, CLIENTS, issuer="elsewhere").issue("app", ["orchestration:read"])
    body = assert_envelope(await client.get("/workflows", headers=bearer(token.access_token)), 401)
    assert "issued" in body["errorMessage"]


async def test_read_token_on_post_is_403(client: httpx.AsyncClient) -> None:
    token = await get_token(client, "orchestration:read")
    for method in ("POST", "DELETE"):
        response = await client.request(method, "/workflows", headers=bearer(token))
        body = assert_envelope(response, 403)
        assert "orchestration:write" in body["errorMessage"]
        assert response.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'


async def test_token_of_another_service_is_403(client: httpx.AsyncClient) -> None:
    token = await get_token(client, "ledger:write")
    assert_envelope(await client.get("/workflows", headers=bearer(token)), 403)


async def test_read_token_on_get(client: httpx.AsyncClient) -> None:
    token = await get_token(client, "orchestration:read")
    response = await client.get("/workflows", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"sub": "app"}
    assert (await client.head("/workflows", headers=bearer(token))).status_code == 200


async def test_write_token_on_get_and_post(client: httpx.AsyncClient) -> None:
    token = await get_token(client, "orchestration:write")
    assert (await client.get("/workflows", headers=bearer(token))).status_code == 200
    assert (await client.post("/workflows", headers=bearer(token))).status_code == 200


async def test_bearer_prefix_is_case_insensitive(client: httpx.AsyncClient) -> None:
    token = await get_token(client)
    response = await client.get("/workflows", headers={"Authorization": f"bEaReR  {token}"})
    assert response.status_code == 200


async def test_exempt_paths_without_token(client: httpx.AsyncClient) -> None:
    for path in ("/api/orchestration/v2/_info", "/_healthcheck", "/v2/_info/"):
        assert (await client.get(path)).status_code == 200, path


def test_default_exempt() -> None:
    for prefix in ("/", "/v2/", "/api/orchestration/", "/api/orchestration/v2/"):
        for leaf in ("_info", "_healthcheck"):
            assert default_exempt(prefix + leaf)
            assert default_exempt(prefix + leaf + "/")
    assert default_exempt(TOKEN_PATH)
    for path in ("/workflows", "/_info/x", "/v3/_info", "/workflows/_info", "/"):
        assert not default_exempt(path)


def test_required_scopes_by_service() -> None:
    assert required_scopes("get", "ledger") == ("ledger:read", "ledger:write")
    assert required_scopes("OPTIONS", "ledger") == ("ledger:read", "ledger:write")
    assert required_scopes("PUT", "wallets") == ("wallets:write",)


async def test_middleware_for_another_service() -> None:
    issuer = TokenIssuer(KEY, CLIENTS, issuer="flows")
    app = AuthMiddleware(Starlette(routes=[Route("/accounts", whoami)]), issuer, service="ledger")
    ledger_token = issuer.issue("app", ["ledger:read"]).access_token
    orch_token = issuer.issue("app", ["orchestration:write"]).access_token
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        assert (await c.get("/accounts", headers=bearer(ledger_token))).status_code == 200
        assert (await c.get("/accounts", headers=bearer(orch_token))).status_code == 403


# --------------------------------------------------------------------------- issuer and keys


def test_verify_returns_claims() -> None:
    issuer = TokenIssuer(KEY, CLIENTS, issuer="flows", lifetime=60)
    issued = issuer.issue("app", ["orchestration:read", "ledger:write"])
    claims = issuer.verify(issued.access_token)
    assert claims.subject == "app"
    assert claims.scopes == {"orchestration:read", "ledger:write"}
    assert claims.expires_at - claims.issued_at == 60
    assert issued.expires_in == 60


def test_verify_rejects_alg_none_and_missing_claims() -> None:
    issuer = TokenIssuer(KEY, CLIENTS, issuer="flows")
    payload = {"iss": "flows", "sub": "x", "scope": "orchestration:write"}
    unsigned = jwt.encode(payload, None, algorithm="none")
    with pytest.raises(InvalidToken):
        issuer.verify(unsigned)
    now = int(time.time())
    partial = jwt.encode(
        {"iss": "flows", "aud": "flows", "sub": "x", "iat": now, "exp": now + 60}, KEY, "HS256"
    )
    with pytest.raises(InvalidToken, match="scope"):
        issuer.verify(partial)


def test_issuer_refuses_short_keys_and_hides_secrets() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        TokenIssuer(b"short", CLIENTS, issuer="flows")
    assert "s3cret" not in repr(TokenIssuer(KEY, CLIENTS, issuer="flows"))


def test_signing_key_from_setting() -> None:
    assert signing_key_from_setting("x" * 32) == b"x" * 32
    with pytest.raises(ValueError, match="at least 32 bytes") as excinfo:
        signing_key_from_setting("tooshort-secret")
    assert "tooshort-secret" not in str(excinfo.value)


def test_load_or_create_signing_key(tmp_path: Path) -> None:
    path = tmp_path / "data" / "auth-signing.key"
    key = load_or_create_signing_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_signing_key(path) == key
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left


def test_load_or_create_keeps_an_existing_key(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_bytes(b"z" * 40)
    path.chmod(0o600)
    assert load_or_create_signing_key(path) == b"z" * 40
    path.write_bytes(b"tiny")
    with pytest.raises(ValueError, match="fewer than 32"):
        load_or_create_signing_key(path)


# --------------------------------------------------------------------------- per-client scopes


async def token_response(
    client: httpx.AsyncClient, client_id: str, secret: str, scope: str | None = None
) -> httpx.Response:
    data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    if scope is not None:
        data["scope"] = scope
    return await client.post(TOKEN_PATH, data=data)


@pytest.mark.parametrize(
    ("client_id", "secret", "requested", "granted"),
    [
        ("reader", "r3ad", None, "orchestration:read"),
        ("reader", "r3ad", "", "orchestration:read"),
        ("reader", "r3ad", "orchestration:read orchestration:write ledger:write", "orchestration:read"),
        ("reader", "r3ad", "openid", "openid orchestration:read"),
        ("orchestrator", "0rch", None, "orchestration:read orchestration:write"),
        ("orchestrator", "0rch", "orchestration:write ledger:write", "orchestration:write"),
    ],
)
async def test_a_client_never_gets_more_than_its_scopes(
    client: httpx.AsyncClient, client_id: str, secret: str, requested: str | None, granted: str
) -> None:
    response = await token_response(client, client_id, secret, requested)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == granted
    claims = jwt.decode(response.json()["access_token"], KEY, algorithms=["HS256"], audience="flows")
    assert claims["scope"] == granted


async def test_asking_only_for_scopes_the_client_lacks_is_invalid_scope(client: httpx.AsyncClient) -> None:
    for scope in ("orchestration:write", "orchestration:write ledger:write", "sandbox:write"):
        response = await token_response(client, "reader", "r3ad", scope)
        assert response.status_code == 400, scope
        assert response.json()["error"] == "invalid_scope"
        assert "access_token" not in response.json()


async def test_a_read_only_client_can_read_but_not_write(client: httpx.AsyncClient) -> None:
    token = (await token_response(client, "reader", "r3ad")).json()["access_token"]
    assert (await client.get("/workflows", headers=bearer(token))).status_code == 200
    assert_envelope(await client.post("/workflows", headers=bearer(token)), 403)


async def test_a_token_is_narrowed_to_what_its_client_may_have_now(client: httpx.AsyncClient) -> None:
    # Signed with the same key while `reader` could write, or for a client since removed.
    clients = [AuthClient("reader", "r3ad", SCOPES), AuthClient("gone", "x", SCOPES)]
    before = TokenIssuer(KEY, clients, issuer="flows", scopes=SCOPES)
    widened = before.issue("reader", ["orchestration:read", "orchestration:write"]).access_token
    assert (await client.get("/workflows", headers=bearer(widened))).status_code == 200
    assert_envelope(await client.post("/workflows", headers=bearer(widened)), 403)
    removed = before.issue("gone", ["orchestration:write"]).access_token
    body = assert_envelope(await client.get("/workflows", headers=bearer(removed)), 401)
    assert "no configured client" in body["errorMessage"]


# --------------------------------------------------------------------------- forged tokens


def forged(*, algorithm: str = "HS256", drop: tuple[str, ...] = (), **claims: Any) -> str:
    """A token signed with the server's own key, valid but for `claims` and `algorithm`; integer
    `iat`, `exp` and `nbf` are seconds from now (tokens are forged when the test runs)."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": "flows", "aud": "flows", "sub": "app", "scope": "orchestration:write",
        "iat": now, "exp": now + 3600, "jti": "j",
    }  # fmt: skip
    for name, value in claims.items():
        relative = name in ("iat", "exp", "nbf") and isinstance(value, int)
        payload[name] = now + value if relative else value
    for name in drop:
        del payload[name]
    with warnings.catch_warnings():
        # PyJWT warns that our 32-byte key is short for HS384/HS512: forging with it is the point.
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(payload, None if algorithm == "none" else KEY, algorithm=algorithm)


async def test_a_well_formed_forged_token_is_accepted(client: httpx.AsyncClient) -> None:
    # The baseline of the cases below: each differs from this one in a single claim or header.
    for token in (forged(), forged(nbf=-5), forged(iat=-100, exp=3500), forged(nbf=5)):
        assert (await client.post("/workflows", headers=bearer(token))).status_code == 200


@pytest.mark.parametrize(
    ("forgery", "reason"),
    [
        ({"nbf": 600}, "not valid yet"),
        ({"nbf": "soon"}, "not integers"),
        ({"exp": 10**18}, "lives longer"),
        ({"iat": -(10**6), "exp": 60}, "lives longer"),
        ({"iat": 5, "exp": 3601 + 5}, "lives longer"),
        ({"iat": 600, "exp": 1200}, "issued in the future"),
        ({"drop": ("aud",)}, "'aud'"),
        ({"aud": "ledger"}, "audience"),
        ({"aud": ["flows", "elsewhere"]}, "audience"),
        ({"algorithm": "none"}, "HS256"),
        ({"algorithm": "HS512"}, "HS256"),
        ({"algorithm": "HS384"}, "HS256"),
    ],
)
async def test_forged_tokens_are_401(client: httpx.AsyncClient, forgery: dict[str, Any], reason: str) -> None:
    token = forged(**forgery)
    for method in ("GET", "POST"):
        response = await client.request(method, "/workflows", headers=bearer(token))
        body = assert_envelope(response, 401)
        assert reason in body["errorMessage"]


def test_issued_tokens_carry_the_audience() -> None:
    issued = TokenIssuer(KEY, CLIENTS, issuer="flows").issue("app", ["orchestration:read"])
    assert jwt.decode(issued.access_token, KEY, algorithms=["HS256"], audience="flows")["aud"] == "flows"
    other = TokenIssuer(KEY, CLIENTS, issuer="flows", audience="flows-eu").issue("app", ["orchestration:read"])
    with pytest.raises(InvalidToken, match="audience"):
        TokenIssuer(KEY, CLIENTS, issuer="flows").verify(other.access_token)


# --------------------------------------------------------------------------- configuration


def test_clients_from_the_flag() -> None:
    clients = load_clients(
        "a:x, b:y:orchestration:read , c:z:orchestration:write+ledger:read+orchestration:read,",
        None,
        SCOPES,
    )
    assert clients == [
        AuthClient("a", "x", SCOPES),
        AuthClient("b", "y", ("orchestration:read",)),
        AuthClient("c", "z", ("orchestration:read", "orchestration:write", "ledger:read")),
    ]
    assert load_clients("", None) == []
    assert load_clients(None, None) == []


def test_clients_from_a_file_add_to_the_flag(tmp_path: Path) -> None:
    path = tmp_path / "clients"
    path.write_text("# the API's clients\n\nviewer:v,1 s3cret:orchestration:read\n  # indented\nadmin:pw\n")
    clients = load_clients("flag:f", path, SCOPES)
    assert [(c.client_id, c.secret, c.scopes) for c in clients] == [
        ("flag", "f", SCOPES),
        ("viewer", "v,1 s3cret", ("orchestration:read",)),
        ("admin", "pw", SCOPES),
    ]


@pytest.mark.parametrize(
    ("setting", "in_file", "message"),
    [
        ("just-a-s3cret", None, "entry 1: expected id:secret"),
        ("a:x,:s3cret", None, "entry 2: expected id:secret"),
        ("a:", None, "entry 1: expected id:secret"),
        ("a:s3cret:", None, "scope 1 of client 'a' is not one of"),
        ("a:s3cret:orchestration:read+", None, "scope 2 of client 'a'"),
        ("a:old:style:s3cret", None, "scope 1 of client 'a'"),
        ("a:s3cret:orchestration:admin", None, "scope 1 of client 'a'"),
        ("a:s3cret:openid", None, "scope 1 of client 'a'"),
        ("a:x,a:y", None, "entry 2: client 'a' is configured twice"),
        ("a:x", "# comment\na:s3cret\n", "line 2: client 'a' is configured twice"),
        (None, "ok:x\nno-secret-here\n", "line 2: expected id:secret"),
    ],
)
def test_malformed_clients_are_refused_without_echoing_secrets(
    tmp_path: Path, setting: str | None, in_file: str | None, message: str
) -> None:
    path = None
    if in_file is not None:
        path = tmp_path / "clients"
        path.write_text(in_file)
    with pytest.raises(ValueError, match=message) as failure:
        load_clients(setting, path)
    for secret in ("s3cret", "style", "admin", "no-secret-here", "just-a"):
        assert secret not in str(failure.value)


def test_unreadable_client_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read --auth-clients-file .*missing"):
        load_clients(None, tmp_path / "missing")
    with pytest.raises(ValueError, match="cannot read --auth-clients-file"):
        load_clients(None, tmp_path)  # a directory
    binary = tmp_path / "binary"
    binary.write_bytes(b"a:\xff\xfe")
    with pytest.raises(ValueError, match="not UTF-8"):
        load_clients(None, binary)


def test_given_secret_from_the_flag_or_its_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("  from-the-file\n")
    assert given_secret(None, path, "--x") == "from-the-file"
    assert given_secret("from-the-flag", None, "--x") == "from-the-flag"
    assert given_secret(None, None, "--x") is None
    with pytest.raises(ValueError, match="give --x or --x-file, not both"):
        given_secret("from-the-flag", path, "--x")
    path.write_text("\n")
    with pytest.raises(ValueError, match="--x-file .* is empty"):
        given_secret(None, path, "--x")
    with pytest.raises(ValueError, match="cannot read --x-file"):
        given_secret(None, tmp_path / "missing", "--x")


def test_client_with_scopes_is_the_first_that_has_them_all() -> None:
    stack = ["openid", "ledger:read", "ledger:write", "wallets:write"]
    assert client_with_scopes(CLIENTS, stack) == CLIENTS[0]
    assert client_with_scopes(CLIENTS[2:], stack) is None
    assert client_with_scopes(CLIENTS[2:], ["orchestration:write"]) == CLIENTS[3]


def test_client_secrets_stay_out_of_reprs() -> None:
    assert "s3cret" not in repr(CLIENTS[0])
