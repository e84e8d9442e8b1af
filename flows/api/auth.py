"""HTTP side of auth: the OAuth2 token endpoint, what an external verifier needs of the built-in
issuer (its OpenID configuration and key set), and the bearer-token middleware.

Mounting (see also the module's tests):

    issuer = TokenIssuer(signing_key, [AuthClient("reader", secret, ("orchestration:read",))], issuer="flows")
    app.router.routes.extend(issuer_routes(issuer))
    app.add_middleware(AuthMiddleware, issuer=issuer)          # or AuthMiddleware(app, issuer)

The middleware takes any `TokenVerifier`: the built-in issuer, or `flows.api.keysets.TrustedIssuers`
to also accept the tokens of an external issuer.

The token endpoint speaks RFC 6749 (`{"error": ...}` bodies); the middleware answers in the API's
error envelope with `errorCode: "VALIDATION"` because that is what the SDKs turn into a typed
error (any other code makes them throw something untyped).

Secrets and tokens are never logged nor echoed in responses.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flows.api.keysets import COOLDOWN, IssuerUnavailable
from flows.api.responses import JSONResponse
from flows.api.tokens import InvalidScope, InvalidToken, TokenClaims, TokenIssuer

__all__ = [
    "AUTH_STATE_KEY",
    "DISCOVERY_PATH",
    "ISSUER_PATH",
    "KEYS_PATH",
    "TOKEN_PATH",
    "AuthMiddleware",
    "TokenVerifier",
    "default_exempt",
    "issuer_routes",
    "request_claims",
    "required_scopes",
    "token_endpoint",
    "token_route",
]

# Where the built-in issuer lives: where a Formance stack's auth server does, so that its token
# endpoint is the SDKs' default tokenURL (resolved against the origin root whatever the server
# URL's prefix), and its issuer URL is `<public URL>/api/auth` like the stack's.
ISSUER_PATH = "/api/auth"
TOKEN_PATH = f"{ISSUER_PATH}/oauth/token"
DISCOVERY_PATH = f"{ISSUER_PATH}/.well-known/openid-configuration"
KEYS_PATH = f"{ISSUER_PATH}/keys"

# Where the middleware leaves the validated claims: `request.state.auth` in handlers.
AUTH_STATE_KEY = "auth"

_FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
# A client-credentials form is a few hundred bytes; refuse to buffer more than this.
_MAX_FORM_BYTES = 16 * 1024
_MAX_FORM_FIELDS = 32
# Subject of tokens handed out with auth off to callers that sent no client id.
_ANONYMOUS = "anonymous"
# RFC 6749 §5.1: token responses must not be cached.
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# --------------------------------------------------------------------------- token endpoint


class _OAuthError(Exception):
    """An RFC 6749 §5.2 error answer of the token endpoint."""

    def __init__(self, status: int, error: str, description: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        body = {"error": self.error, "error_description": self.description}
        return JSONResponse(body, status_code=self.status, headers={**_NO_STORE, **self.headers})


def _invalid_request(description: str) -> _OAuthError:
    return _OAuthError(400, "invalid_request", description)


def _invalid_client(issuer: TokenIssuer, description: str) -> _OAuthError:
    # RFC 6749 §5.2: a 401 for client authentication carries a Basic challenge; RFC 7617 makes
    # `realm` mandatory in it.
    challenge = f'Basic realm="{issuer.issuer}"'
    return _OAuthError(401, "invalid_client", description, {"WWW-Authenticate": challenge})


def token_endpoint(issuer: TokenIssuer) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint for `POST /api/auth/oauth/token` (client credentials grant)."""

    async def endpoint(request: Request) -> Response:
        try:
            form = await _read_form(request)
            client_id = _authenticate_client(issuer, request, form)
            _check_grant_type(form)
            scopes = _grant_scopes(issuer, client_id, form)
        except _OAuthError as exc:
            return exc.response()
        token = issuer.issue(client_id, scopes)
        body = {
            "access_token": token.access_token,
            "token_type": "Bearer",
            "expires_in": token.expires_in,
            "scope": token.scope,
        }
        return JSONResponse(body, headers=_NO_STORE)

    return endpoint


def token_route(issuer: TokenIssuer) -> Route:
    """The token endpoint as a ready-made POST route at `TOKEN_PATH`."""
    return Route(TOKEN_PATH, token_endpoint(issuer), methods=["POST"], name="oauth_token")


def openid_configuration(issuer: TokenIssuer) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint of the built-in issuer's metadata (OpenID Connect Discovery 1.0 §3, RFC 8414):
    how an external verifier finds its key set. Its URLs are the issuer's when the issuer is a URL
    (`--auth-base-url`), else this request's origin's."""

    async def endpoint(request: Request) -> Response:
        base = _issuer_url(issuer, request)
        document = {
            "issuer": issuer.issuer,
            "token_endpoint": f"{base}/oauth/token",
            "jwks_uri": f"{base}/keys",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": list(issuer.scopes),
            "claims_supported": ["iss", "aud", "sub", "scope", "iat", "exp", "jti"],
        }
        return JSONResponse(document, headers=_PUBLIC_CACHE)

    return endpoint


def key_set(issuer: TokenIssuer) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint of the built-in issuer's JWKS: the public key its tokens are signed with."""

    async def endpoint(_request: Request) -> Response:
        return JSONResponse(issuer.key_set(), headers=_PUBLIC_CACHE)

    return endpoint


# Verifiers may cache both documents a little; a new key gets a new id, which makes them read again.
_PUBLIC_CACHE = {"Cache-Control": "public, max-age=300"}


def _issuer_url(issuer: TokenIssuer, request: Request) -> str:
    if issuer.issuer.startswith(("https://", "http://")):
        return issuer.issuer.rstrip("/")
    return str(request.base_url).rstrip("/") + ISSUER_PATH


def issuer_routes(issuer: TokenIssuer) -> list[Route]:
    """The built-in issuer's routes: its token endpoint, OpenID configuration and key set."""
    return [
        token_route(issuer),
        Route(DISCOVERY_PATH, openid_configuration(issuer), methods=["GET"], name="openid_configuration"),
        Route(KEYS_PATH, key_set(issuer), methods=["GET"], name="key_set"),
    ]


async def _read_form(request: Request) -> dict[str, str]:
    """Parse the form body without python-multipart; RFC 6749 forbids repeated parameters."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != _FORM_MEDIA_TYPE:
        raise _invalid_request(f"the token request body must be {_FORM_MEDIA_TYPE}")
    raw = await _read_body_capped(request)
    try:
        parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _invalid_request("the token request body is not a valid form") from exc
    repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
    if repeated:
        raise _invalid_request(f"parameter {repeated[0]!r} is given more than once")
    return {name: values[0] for name, values in parsed.items()}


async def _read_body_capped(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_FORM_BYTES:
            raise _OAuthError(413, "invalid_request", "the token request body is too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _authenticate_client(issuer: TokenIssuer, request: Request, form: Mapping[str, str]) -> str:
    """Return the authenticated client id (the token's subject)."""
    if not issuer.enabled and issuer.external_issuer:
        # Tokens of a client-less issuer would guard nothing, and this service trusts another.
        raise _invalid_client(issuer, f"this service issues no tokens (no --auth-clients): get one from {issuer.external_issuer}")
    if not issuer.enabled:
        # Auth off: anyone gets a token, so SDKs configured with credentials still work;
        # even odd credentials are not worth refusing a token that guards nothing.
        try:
            credentials = _client_credentials(issuer, request, form)
        except _OAuthError:
            credentials = None
        return credentials[0] if credentials else _ANONYMOUS
    credentials = _client_credentials(issuer, request, form)
    if credentials is None:
        raise _invalid_client(issuer, "client authentication is required")
    client_id, client_secret = credentials
    if not issuer.authenticate(client_id, client_secret):
        # One message for both cases: do not tell which client ids exist.
        raise _invalid_client(issuer, "unknown client or wrong client secret")
    return client_id


def _client_credentials(issuer: TokenIssuer, request: Request, form: Mapping[str, str]) -> tuple[str, str] | None:
    """Credentials from HTTP Basic or from the form body (RFC 6749 §2.3.1), never both."""
    basic = _basic_credentials(issuer, request.headers.get("authorization"))
    body_id, body_secret = form.get("client_id"), form.get("client_secret")
    if basic is not None:
        if body_secret is not None:
            raise _invalid_request("send client credentials either with HTTP Basic or in the body")
        if body_id is not None and body_id != basic[0]:
            raise _invalid_request("client_id in the body differs from the HTTP Basic one")
        return basic
    if not body_id:
        return None
    return body_id, body_secret or ""


def _basic_credentials(issuer: TokenIssuer, header: str | None) -> tuple[str, str] | None:
    """Decode `Authorization: Basic …`; other schemes are not client authentication here."""
    if header is None:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _invalid_client(issuer, "malformed HTTP Basic credentials") from exc
    client_id, sep, client_secret = decoded.partition(":")
    if not sep or not client_id:
        raise _invalid_client(issuer, "malformed HTTP Basic credentials")
    # RFC 6749 §2.3.1 form-encodes both parts before Basic; percent-decode them. `unquote`, not
    # `unquote_plus`: a raw `+` from a client that skipped the encoding (curl -u) stays a `+`.
    return unquote(client_id), unquote(client_secret)


def _check_grant_type(form: Mapping[str, str]) -> None:
    grant_type = form.get("grant_type")
    if not grant_type:
        raise _invalid_request("grant_type is required")
    if grant_type != "client_credentials":
        raise _OAuthError(400, "unsupported_grant_type", "only the client_credentials grant is supported")


def _grant_scopes(issuer: TokenIssuer, client_id: str, form: Mapping[str, str]) -> tuple[str, ...]:
    try:
        return issuer.grant_scopes(client_id, form.get("scope"))
    except InvalidScope as exc:
        raise _OAuthError(400, "invalid_scope", str(exc)) from exc


# --------------------------------------------------------------------------- middleware


class TokenVerifier(Protocol):
    """What the middleware needs: `TokenIssuer` is one, `flows.api.keysets.TrustedIssuers` another.

    `verify_bearer` raises `InvalidToken` for a token to refuse (401), and `IssuerUnavailable`
    when it cannot tell now (503)."""

    @property
    def enabled(self) -> bool: ...

    async def verify_bearer(self, token: str) -> TokenClaims: ...


class _Rejection(Exception):
    def __init__(self, status: int, message: str, headers: Mapping[str, str], error_code: str = "VALIDATION") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers
        self.error_code = error_code


def _challenge(value: str = "Bearer") -> dict[str, str]:
    return {"www-authenticate": value}


_INFO_PREFIXES = ("/", "/v2/", "/api/orchestration/", "/api/orchestration/v2/")
_EXEMPT_PATHS = frozenset(
    {f"{prefix}{leaf}{slash}" for prefix in _INFO_PREFIXES for leaf in ("_info", "_healthcheck") for slash in ("", "/")}
    | {f"{path}{slash}" for path in (TOKEN_PATH, DISCOVERY_PATH, KEYS_PATH) for slash in ("", "/")}
    # The API's own description (flows/api/openapi.py): public, as API docs usually are.
    | {
        f"{root}{doc}{slash}"
        for root in ("", "/api/orchestration")
        for doc in ("/openapi.json", "/v2/openapi.json", "/docs")
        for slash in ("", "/")
    }
)


def default_exempt(path: str) -> bool:
    """Paths open without a token: `_info`, `_healthcheck` (probes), the built-in issuer's token
    endpoint, OpenID configuration and key set, and the API's OpenAPI document and docs page."""
    return path in _EXEMPT_PATHS


def required_scopes(method: str, service: str) -> tuple[str, ...]:
    """Scopes of which a token needs one: reads accept read or write, writes need write."""
    if method.upper() in _READ_METHODS:
        return (f"{service}:read", f"{service}:write")
    return (f"{service}:write",)


def request_claims(request: Request) -> TokenClaims | None:
    """The caller's validated claims, or None when auth is off or the path is exempt."""
    return getattr(request.state, AUTH_STATE_KEY, None)


class AuthMiddleware:
    """Pure ASGI middleware requiring a bearer token with the service's scope on every request.

    The scope is required of every token the verifier says is `scoped`, and of every token
    whatever it says with `always_check_scopes` (the sandbox's paths: their scopes guard them).

    Pure ASGI rather than BaseHTTPMiddleware so streaming bodies and cancellation pass untouched.
    """

    def __init__(
        self,
        app: ASGIApp,
        issuer: TokenVerifier,
        service: str = "orchestration",
        exempt: Callable[[str], bool] | None = None,
        always_check_scopes: bool = False,
    ) -> None:
        self.app = app
        self.issuer = issuer
        self.service = service
        self.exempt = exempt or default_exempt
        self.always_check_scopes = always_check_scopes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.issuer.enabled:
            await self.app(scope, receive, send)
            return
        if self._is_exempt(scope):
            await self.app(scope, receive, send)
            return
        try:
            claims = await self._authorize(scope)
        except _Rejection as rejection:
            await _reject(scope, send, rejection)
            return
        await self.app(_with_claims(scope, claims), receive, send)

    def _is_exempt(self, scope: Scope) -> bool:
        # Behind a proxy with a root path, `path` may or may not include it; accept both views.
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "")
        if root and path.startswith(root) and self.exempt(path[len(root) :] or "/"):
            return True
        return self.exempt(path)

    async def _authorize(self, scope: Scope) -> TokenClaims:
        token = _bearer_token(scope)
        try:
            claims = await self.issuer.verify_bearer(token)
        except InvalidToken as exc:
            raise _Rejection(401, f"invalid bearer token: {exc}", _challenge()) from exc
        except IssuerUnavailable as exc:
            # Not the caller's fault: a 401 would make an SDK drop a token that may be good.
            raise _Rejection(503, str(exc), {"retry-after": f"{COOLDOWN:.0f}"}, "INTERNAL") from exc
        if not (claims.scoped or self.always_check_scopes):
            return claims
        # WebSockets have no method; treat them as reads.
        accepted = required_scopes(scope.get("method", "GET"), self.service)
        if not claims.has_any_scope(accepted):
            raise _Rejection(
                403,
                f"insufficient scope: this request needs {' or '.join(accepted)}",
                _challenge('Bearer error="insufficient_scope"'),
            )
        return claims


def _bearer_token(scope: Scope) -> str:
    values = [v for k, v in scope.get("headers", []) if k.lower() == b"authorization"]
    if not values:
        raise _Rejection(
            401,
            f"missing bearer token: send 'Authorization: Bearer <token>' (tokens come from POST {TOKEN_PATH})",
            _challenge(),
        )
    if len(values) > 1:
        raise _Rejection(401, "send a single Authorization header", _challenge())
    scheme, _, token = values[0].decode("latin-1").strip().partition(" ")
    if scheme.lower() != "bearer":
        raise _Rejection(401, "the Authorization header must use the Bearer scheme", _challenge())
    token = token.strip()
    if not token:
        raise _Rejection(401, "missing bearer token: the Authorization header is empty", _challenge())
    return token


def _with_claims(scope: Scope, claims: TokenClaims) -> Scope:
    # A fresh state dict for this request: servers may share the lifespan state dict, and the
    # claims of one caller must never be visible to another. The scope itself is this request's
    # own: changed in place, so that the wrappers outside see the route the router leaves on it.
    state: dict[str, Any] = dict(scope.get("state") or {})
    state[AUTH_STATE_KEY] = claims
    scope["state"] = state
    return scope


async def _reject(scope: Scope, send: Send, rejection: _Rejection) -> None:
    if scope["type"] == "websocket":
        # Closing before accept makes the server answer the handshake with 403.
        await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps({"errorCode": rejection.error_code, "errorMessage": rejection.message}).encode()
    start: Message = {
        "type": "http.response.start",
        "status": rejection.status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *((name.encode(), value.encode()) for name, value in rejection.headers.items()),
            (b"cache-control", b"no-store"),
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})
