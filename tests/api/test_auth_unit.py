"""Unit tests of flows.api.auth / flows.api.tokens on a tiny Starlette app (in-process ASGI).

The full API is tested elsewhere over real HTTP with the official SDK; here every branch of the
token endpoint and the middleware is driven directly.
"""

from __future__ import annotations

import base64
import os
import stat
import time
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
    ALLOWED_SCOPES,
    InvalidToken,
    TokenIssuer,
    load_or_create_signing_key,
    parse_clients_setting,
    signing_key_from_setting,
)

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
CLIENTS = {"app": "s3cret", "other": "pa+ss:word"}
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
    return TokenIssuer(KEY, CLIENTS, issuer="flows")


@pytest.fixture
async def client(issuer: TokenIssuer) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(issuer) as c:
        yield c


@pytest.fixture
async def open_client() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(TokenIssuer(KEY, {}, issuer="flows")) as c:
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
    claims = jwt.decode(body["access_token"], KEY, algorithms=["HS256"], issuer="flows")
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
    claims = jwt.decode(response.json()["access_token"], KEY, algorithms=["HS256"])
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
        ("", " ".join(ALLOWED_SCOPES)),
        (None, " ".join(ALLOWED_SCOPES)),
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
    claims = jwt.decode(response.json()["access_token"], KEY, algorithms=["HS256"])
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
    assert jwt.decode(with_creds.json()["access_token"], KEY, algorithms=["HS256"])["sub"] == "sdk"
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
    partial = jwt.encode({"iss": "flows", "sub": "x", "iat": now, "exp": now + 60}, KEY, "HS256")
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


def test_parse_clients_setting() -> None:
    assert parse_clients_setting("a:x, b:y:z") == {"a": "x", "b": "y:z"}
    assert parse_clients_setting("") == {}
    for bad in ("a", "a:", ":x", "a:x,a:y"):
        with pytest.raises(ValueError):
            parse_clients_setting(bad)
