"""The stack's auth: `flows serve --auth-enabled --auth-issuer <url>` accepts the bearer JWTs of an
external issuer, checked against the key set the issuer publishes, and refuses every other token.

`Issuer` is an independent issuer made here, as a Formance stack's auth server is: an HTTP server
on loopback serving `<issuer>/.well-known/openid-configuration` and its JWKS at `<issuer>/keys`,
keys made with `cryptography`, tokens signed with PyJWT. `stack_service` trusts it with
`--auth-check-scopes --auth-audience`, has clients of its own (`--auth-clients`: both issuers side
by side) and the sandbox; with `--auth-base-url` it is also the issuer `verifying_flows` trusts, one
Flows the issuer of another. The tests share their servers: those that need the issuer's key set
read again wait for the verifier's cooldown (`Issuer.await_cooldown`) rather than restart anything.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from formance_sdk_python import SDK
from formance_sdk_python.models.orchestration import Error
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from flows.api.keysets import COOLDOWN, discover
from flows.errors import StartupError
from tests.support.service import FlowsProcess, free_port, serving

ORCHESTRATION = "/api/orchestration"
NOOP = {"name": "stack-auth", "stages": [{"noop": {}}]}
AUDIENCE = "flows-under-test"
LOCAL_CLIENT, LOCAL_SECRET = "local", "local-s3cret"


# --------------------------------------------------------------------------- the issuer


@dataclass
class SigningKey:
    kid: str
    private: Any
    algorithm: str

    @classmethod
    def rsa(cls, kid: str) -> SigningKey:
        return cls(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")

    @classmethod
    def ec(cls, kid: str) -> SigningKey:
        return cls(kid, ec.generate_private_key(ec.SECP256R1()), "ES256")

    def jwk(self) -> dict[str, Any]:
        to_jwk = RSAAlgorithm.to_jwk if self.algorithm == "RS256" else ECAlgorithm.to_jwk
        return {**to_jwk(self.private.public_key(), as_dict=True), "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass
class Issuer:
    """What a stack's auth server publishes; `up` False makes every answer a 503."""

    url: str
    keys: list[SigningKey]
    up: bool = True
    key_reads: list[float] = field(default_factory=list)

    def token(self, key: SigningKey | None = None, headers: dict[str, Any] | None = None, **claims: Any) -> str:
        """A token as the stack's auth server issues one; `claims` override or, None, drop its claims."""
        key = key or self.keys[0]
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.url, "sub": "stack-client", "aud": [AUDIENCE, "stack-client"],
            "scope": "openid orchestration:read orchestration:write", "iat": now, "exp": now + 600,
            "jti": uuid.uuid4().hex,
        }  # fmt: skip
        payload.update(claims)
        payload = {name: value for name, value in payload.items() if value is not None}
        return jwt.encode(payload, key.private, algorithm=key.algorithm, headers={"kid": key.kid, **(headers or {})})

    def await_cooldown(self) -> None:
        """Until the verifier may read the key set again (it reads at most once per cooldown)."""
        if self.key_reads:
            time.sleep(max(0.0, self.key_reads[-1] + COOLDOWN + 0.2 - time.monotonic()))


@contextlib.contextmanager
def serve_issuer(issuer_path: str = "/api/auth") -> Iterator[Issuer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    keys = [SigningKey.rsa("rsa-1"), SigningKey.ec("ec-1"), SigningKey.rsa("rotated-out")]
    issuer = Issuer(f"http://127.0.0.1:{server.server_port}{issuer_path}", keys)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == f"{issuer_path}/keys":
                issuer.key_reads.append(time.monotonic())
                body = {"keys": [key.jwk() for key in issuer.keys]}
            elif self.path == f"{issuer_path}/.well-known/openid-configuration":
                url = f"http://127.0.0.1:{server.server_port}{issuer_path}"
                body = {"issuer": issuer.url, "jwks_uri": f"{url}/keys", "token_endpoint": f"{url}/oauth/token"}
            else:
                self.send_error(404)
                return
            if not issuer.up:
                self.send_error(503)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with serve_issuer() as issuer:
        yield issuer


@pytest.fixture(scope="module")
def stack_service(tmp_path_factory: pytest.TempPathFactory, issuer: Issuer) -> Iterator[FlowsProcess]:
    service = FlowsProcess(tmp_path_factory.mktemp("stack-auth") / "data")
    service.flags = (
        "--auth-enabled", "--auth-issuer", issuer.url, "--auth-check-scopes", "--auth-audience", AUDIENCE,
        "--auth-clients", f"{LOCAL_CLIENT}:{LOCAL_SECRET},viewer:viewer-s3cret:orchestration:read",
        "--auth-base-url", f"{service.url}/api/auth",
    )  # fmt: skip
    yield from serving(service)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_refused(response: httpx.Response, status: int = 401) -> None:
    assert response.status_code == status, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["errorCode"] == "VALIDATION"


def workflows(service: FlowsProcess, token: str) -> httpx.Response:
    return httpx.get(f"{service.url}{ORCHESTRATION}/workflows", headers=bearer(token))


def create_workflow(service: FlowsProcess, token: str) -> httpx.Response:
    return httpx.post(f"{service.url}{ORCHESTRATION}/workflows", json=NOOP, headers=bearer(token))


# --------------------------------------------------------------------------- accepted tokens


def test_the_sdk_runs_a_workflow_with_an_rs256_token_of_the_stacks_issuer(stack_service: FlowsProcess, issuer: Issuer) -> None:
    headers = bearer(issuer.token())
    v1 = SDK(server_url=stack_service.url).orchestration.v1
    created = v1.create_workflow(request=NOOP, http_headers=headers)
    assert created.status_code == 201
    workflow_id = created.create_workflow_response.data.id
    run = v1.run_workflow(request={"workflow_id": workflow_id, "wait": True}, http_headers=headers, timeout_ms=15_000)
    assert run.run_workflow_response.data.terminated
    listed = v1.list_workflows(http_headers=headers).list_workflows_response.data
    assert workflow_id in [workflow.id for workflow in listed]


def test_an_es256_token_is_accepted(stack_service: FlowsProcess, issuer: Issuer) -> None:
    token = issuer.token(issuer.keys[1])
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert create_workflow(stack_service, token).status_code == 201


def test_tokens_of_the_built_in_issuer_are_accepted_beside_the_stacks(stack_service: FlowsProcess) -> None:
    assert create_workflow(stack_service, stack_service.token(LOCAL_CLIENT, LOCAL_SECRET)).status_code == 201


# --------------------------------------------------------------------------- refused tokens


def hs256(secret: bytes, payload: dict[str, Any], kid: str) -> str:
    """HS256 by hand: PyJWT refuses to use a public key as an HMAC secret, an attacker would not."""

    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = part(json.dumps(payload).encode())
    signature = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{part(signature)}"


@pytest.fixture(scope="module")
def refused_tokens(issuer: Issuer) -> dict[str, str]:
    rsa_key = issuer.keys[0]
    payload = jwt.decode(issuer.token(), options={"verify_signature": False})
    impostor = SigningKey(rsa_key.kid, rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")
    return {
        "expired": issuer.token(iat=int(time.time()) - 3600, exp=int(time.time()) - 60),
        "not-yet-valid": issuer.token(nbf=int(time.time()) + 600),
        "no-exp": issuer.token(exp=None),
        "wrong-issuer": issuer.token(iss="http://127.0.0.1:9/api/auth"),
        "issuer-prefix": issuer.token(iss=issuer.url + "x"),
        "wrong-audience": issuer.token(aud="ledger"),
        "no-audience": issuer.token(aud=None),
        "alg-none": jwt.encode(payload, None, algorithm="none", headers={"kid": rsa_key.kid}),
        "hs256-with-the-public-key": hs256(rsa_key.public_pem(), payload, rsa_key.kid),
        "hs256-with-the-jwk": hs256(json.dumps(rsa_key.jwk()).encode(), payload, rsa_key.kid),
        "es256-token-naming-an-rsa-key": issuer.token(issuer.keys[1], headers={"kid": issuer.keys[0].kid}),
        "another-key-same-kid": issuer.token(impostor),
        "no-kid": jwt.encode(payload, rsa_key.private, algorithm="RS256"),
        "tampered": issuer.token()[:-8] + "AAAAAAAA",
        "garbage": "garbage",
        "three-parts": "a.b.c",
        "huge": "x" * 6000,
    }


REFUSED = [
    "expired", "not-yet-valid", "no-exp", "wrong-issuer", "issuer-prefix", "wrong-audience", "no-audience", "alg-none",
    "hs256-with-the-public-key", "hs256-with-the-jwk", "es256-token-naming-an-rsa-key", "another-key-same-kid", "no-kid",
    "tampered", "garbage", "three-parts", "huge",
]  # fmt: skip


@pytest.mark.parametrize("case", REFUSED)
def test_bad_tokens_are_401_and_change_nothing(
    stack_service: FlowsProcess, issuer: Issuer, refused_tokens: dict[str, str], case: str
) -> None:
    token = refused_tokens[case]
    before = len(workflows(stack_service, issuer.token()).json()["data"])
    assert_refused(workflows(stack_service, token))
    assert_refused(create_workflow(stack_service, token))
    assert_refused(httpx.get(f"{stack_service.url}/api/ledger/v2/default/accounts", headers=bearer(token)))
    assert len(workflows(stack_service, issuer.token()).json()["data"]) == before


def test_the_sdk_gets_a_typed_401_for_an_expired_token(stack_service: FlowsProcess, refused_tokens: dict[str, str]) -> None:
    with pytest.raises(Error) as failure:
        SDK(server_url=stack_service.url).orchestration.v1.list_workflows(http_headers=bearer(refused_tokens["expired"]))
    assert failure.value.status_code == 401
    assert failure.value.data.error_code == "VALIDATION"
    assert "expired" in failure.value.data.error_message


def test_no_token_is_ever_logged(stack_service: FlowsProcess, issuer: Issuer) -> None:
    token = issuer.token()
    assert workflows(stack_service, token).status_code == 200
    assert_refused(workflows(stack_service, token + "x"))
    log = stack_service.log_path.read_text(errors="replace")
    assert token.split(".")[2][:20] not in log and LOCAL_SECRET not in log


# --------------------------------------------------------------------------- scopes


def test_a_read_only_token_reads_but_cannot_write(stack_service: FlowsProcess, issuer: Issuer) -> None:
    reader = issuer.token(scope="openid orchestration:read")
    assert workflows(stack_service, reader).status_code == 200
    assert_refused(create_workflow(stack_service, reader), 403)
    assert_refused(workflows(stack_service, issuer.token(scope="ledger:read ledger:write")), 403)


def test_the_sandbox_keeps_its_own_scopes(stack_service: FlowsProcess, issuer: Issuer) -> None:
    accounts = f"{stack_service.url}/api/ledger/v2/default/accounts"
    assert_refused(httpx.get(accounts, headers=bearer(issuer.token())), 403)  # orchestration scopes only
    assert httpx.get(accounts, headers=bearer(issuer.token(scope="ledger:read"))).status_code == 200


# --------------------------------------------------------------------------- the key set


def test_a_flood_of_unknown_key_ids_reads_the_key_set_at_most_once_per_cooldown(stack_service: FlowsProcess, issuer: Issuer) -> None:
    issuer.await_cooldown()
    reads = len(issuer.key_reads)
    started = time.monotonic()
    stranger = SigningKey.ec("")
    for _ in range(25):
        stranger.kid = f"made-up-{uuid.uuid4().hex}"
        assert_refused(workflows(stack_service, issuer.token(stranger)))
    windows = int((time.monotonic() - started) // COOLDOWN) + 1
    assert 1 <= len(issuer.key_reads) - reads <= windows


def test_while_the_issuer_is_down_known_keys_work_and_unknown_ones_are_503(stack_service: FlowsProcess, issuer: Issuer) -> None:
    issuer.await_cooldown()
    issuer.up = False
    try:
        assert workflows(stack_service, issuer.token()).status_code == 200  # cached
        unknown = issuer.token(SigningKey.rsa("published-later"))
        response = workflows(stack_service, unknown)
        assert response.status_code == 503, response.text
        assert response.json()["errorCode"] == "INTERNAL"
        assert int(response.headers["retry-after"]) > 0
        with pytest.raises(Error) as failure:
            SDK(server_url=stack_service.url).orchestration.v1.list_workflows(http_headers=bearer(unknown))
        assert failure.value.status_code == 503
    finally:
        issuer.up = True


def test_a_rotated_key_works_without_a_restart_and_a_removed_one_is_refused(stack_service: FlowsProcess, issuer: Issuer) -> None:
    old, new = issuer.keys[-1], SigningKey.rsa("rotated-in")
    assert workflows(stack_service, issuer.token(old)).status_code == 200
    issuer.keys[-1] = new  # the issuer rotates: `old` is no longer published
    issuer.await_cooldown()
    assert create_workflow(stack_service, issuer.token(new)).status_code == 201
    assert_refused(workflows(stack_service, issuer.token(old)))
    assert workflows(stack_service, issuer.token()).status_code == 200  # the keys that stayed still work


# --------------------------------------------------------------------------- the issuer out of reach at startup


def serve_briefly(tmp_path: Path, *flags: str) -> tuple[subprocess.CompletedProcess[str], float]:
    command = [
        sys.executable, "-m", "flows.cli", "serve", "--data-dir", str(tmp_path / "data"),
        "--listen", f"127.0.0.1:{free_port()}", "--stack-url", "http://127.0.0.1:9", *flags,
    ]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120, env=dict(os.environ))
    return result, time.monotonic() - started


def test_an_issuer_out_of_reach_at_startup_is_retried_then_the_start_refused(tmp_path: Path) -> None:
    issuer_url = f"http://127.0.0.1:{free_port()}/api/auth"
    result, _ = serve_briefly(tmp_path, "--auth-enabled", "--auth-issuer", issuer_url, "--auth-read-key-set-max-retries", "2")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("retry ") == 2
    last = result.stderr.splitlines()[-1]
    assert last.startswith("flows: cannot reach the token issuer") and "after 2 retries" in last, last
    assert not (tmp_path / "data").exists()  # refused before anything started


def test_an_issuer_whose_configuration_names_another_issuer_is_refused_at_once() -> None:
    async def start(issuer_url: str) -> None:
        async with httpx.AsyncClient() as http:
            await discover(issuer_url, http, retries=5)

    with serve_issuer() as impostor:
        configured = impostor.url
        impostor.url = "https://auth.example.com/api/auth"  # what its configuration now says it is
        with pytest.raises(StartupError, match="names another issuer") as refusal:
            asyncio.run(start(configured))
        assert str(refusal.value).startswith(f"cannot use the token issuer {configured} (--auth-issuer)")
        assert impostor.key_reads == []


# --------------------------------------------------------------------------- one Flows as the issuer of another


@pytest.fixture(scope="module")
def verifying_flows(tmp_path_factory: pytest.TempPathFactory, stack_service: FlowsProcess) -> Iterator[FlowsProcess]:
    """Trusts `stack_service`'s built-in issuer, alone."""
    service = FlowsProcess(
        tmp_path_factory.mktemp("verifying") / "data",
        "--auth-enabled", "--auth-issuer", f"{stack_service.url}/api/auth", "--stack-url", "http://127.0.0.1:9",
    )  # fmt: skip
    yield from serving(service)


def test_the_built_in_issuer_publishes_its_configuration_and_rs256_key(stack_service: FlowsProcess) -> None:
    issuer_url = f"{stack_service.url}/api/auth"
    configuration = httpx.get(f"{issuer_url}/.well-known/openid-configuration").json()
    assert configuration["issuer"] == issuer_url
    assert configuration["token_endpoint"] == f"{issuer_url}/oauth/token"
    assert configuration["grant_types_supported"] == ["client_credentials"]
    assert set(configuration["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}
    [key] = httpx.get(configuration["jwks_uri"]).json()["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and "d" not in key
    token = stack_service.token(LOCAL_CLIENT, LOCAL_SECRET)
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "typ": "JWT", "kid": key["kid"]}
    claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], audience=issuer_url, issuer=issuer_url)
    assert claims["sub"] == LOCAL_CLIENT
    assert workflows(stack_service, token).status_code == 200


def test_a_flows_accepts_the_tokens_of_another_flows(stack_service: FlowsProcess, verifying_flows: FlowsProcess) -> None:
    v1 = SDK(server_url=verifying_flows.url).orchestration.v1
    headers = bearer(stack_service.token(LOCAL_CLIENT, LOCAL_SECRET))
    assert v1.create_workflow(request=NOOP, http_headers=headers).status_code == 201
    # Without --auth-check-scopes, as Formance's services, any valid token of the issuer may write.
    assert create_workflow(verifying_flows, stack_service.token("viewer", "viewer-s3cret")).status_code == 201
    forged = jwt.encode({"iss": f"{stack_service.url}/api/auth", "exp": int(time.time()) + 60}, "k" * 32, algorithm="HS256")
    assert_refused(workflows(verifying_flows, forged))


def test_a_flows_without_clients_of_its_own_issues_no_tokens(verifying_flows: FlowsProcess, stack_service: FlowsProcess) -> None:
    form = {"grant_type": "client_credentials", "client_id": LOCAL_CLIENT, "client_secret": LOCAL_SECRET}
    response = httpx.post(f"{verifying_flows.url}/api/auth/oauth/token", data=form)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert f"{stack_service.url}/api/auth" in response.json()["error_description"]
