"""Bearer tokens of an external issuer (`--auth-enabled --auth-issuer <url>`): a Formance stack's
auth server, any OpenID provider, or another Flows (whose built-in issuer publishes its keys).

How its key set is kept, so that key rotation works and hostile tokens cannot make Flows hammer
the issuer nor stall the event loop:

* `discover` reads `<issuer>/.well-known/openid-configuration` and the key set of its `jwks_uri`
  once, when `flows serve` starts, retrying while the issuer is out of reach (`--auth-read-key-
  set-max-retries`); without them Flows does not start, rather than refuse every token.
* `RemoteKeySet` caches the keys by id (`kid`). A token naming a key id it does not hold makes it
  read the key set again, so a key the issuer rotates in works at once and a key it removed is
  refused from then on; it also re-reads in the background a key set older than `MAX_AGE`. One
  read at a time (concurrent requests wait for the same one), none within `COOLDOWN` of the last,
  each bounded by `FETCH_TIMEOUT`: a flood of made-up key ids costs the issuer one request per
  `COOLDOWN`.
* When a token names a key id that is not cached and the key set cannot be read, the caller's
  token may well be valid: that is our outage, `IssuerUnavailable`, answered 503 (retry later),
  not a 401 that would make an SDK drop a good token.

Only asymmetric keys are taken from a key set (RSA, EC, OKP), and a token must be signed with the
algorithm of the key its `kid` names: `alg: none`, HS256 signed with a public key, or an RS256
header over an EC key are all refused before any signature is checked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import jwt

from flows.api.tokens import InvalidToken, TokenClaims, TokenIssuer, refusal
from flows.errors import StartupError

log = logging.getLogger(__name__)

FETCH_TIMEOUT = 5.0
"""Seconds one read of the discovery document or of the key set may take, in all."""
COOLDOWN = 5.0
"""Seconds between two reads of the key set at least."""
MAX_AGE = 600.0
"""Seconds after which a key set is read again in the background (a key may have been removed)."""
LEEWAY = 10
"""Seconds of clock skew tolerated on `exp`, `nbf` and `iat`."""

_MAX_DOCUMENT_BYTES = 1 << 20
_ASYMMETRIC_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})
_FIRST_BACKOFF, _MAX_BACKOFF = 0.5, 5.0

T = TypeVar("T")


class IssuerUnavailable(Exception):
    """The issuer's key set cannot be read now; the message is safe to show to the caller."""


class _Unreachable(Exception):
    """A read that failed for a reason that may pass (network, timeout, 5xx, 429)."""


class _Unusable(Exception):
    """A read that answered something unusable: retrying will not help."""


async def _get_json(http: httpx.AsyncClient, url: str) -> Any:
    """The JSON document at `url`, read within FETCH_TIMEOUT and at most _MAX_DOCUMENT_BYTES."""
    try:
        async with asyncio.timeout(FETCH_TIMEOUT):
            async with http.stream("GET", url, headers={"Accept": "application/json"}) as response:
                if response.status_code >= 500 or response.status_code == 429:
                    raise _Unreachable(f"{url} answered {response.status_code}")
                if response.status_code != 200:
                    raise _Unusable(f"{url} answered {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > _MAX_DOCUMENT_BYTES:
                        raise _Unusable(f"{url} answered more than {_MAX_DOCUMENT_BYTES} bytes")
    except TimeoutError as exc:
        raise _Unreachable(f"{url} did not answer within {FETCH_TIMEOUT:g} s") from exc
    except httpx.HTTPError as exc:
        raise _Unreachable(f"{url}: {exc or type(exc).__name__}") from exc
    try:
        return json.loads(body)
    except ValueError as exc:
        raise _Unusable(f"{url} did not answer JSON") from exc


def _usable_keys(document: Any, url: str) -> dict[str, jwt.PyJWK]:
    """The signing keys of a JWKS by key id; symmetric keys, keys for encryption, keys without an
    id and keys PyJWT cannot read are left out."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise _Unusable(f"{url} is not a JSON Web Key Set")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("kty") not in _ASYMMETRIC_KEY_TYPES:
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or entry.get("use", "sig") != "sig":
            continue
        try:
            keys[kid] = jwt.PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            log.warning("key %r of %s is not a usable signing key: left out", kid[:64], url)
    return keys


class RemoteKeySet:
    """The issuer's signing keys, read from `url` and cached (see the module's docstring)."""

    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        *,
        cooldown: float = COOLDOWN,
        max_age: float = MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._http = http
        self._cooldown = cooldown
        self._max_age = max_age
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._read_at = -math.inf
        self._tried_at = -math.inf
        self._last_failed = False
        self._reading: asyncio.Task[None] | None = None

    async def load(self) -> None:
        """Read the key set now; raise what went wrong (used at startup, with retries)."""
        self._tried_at = self._clock()
        self._keys = _usable_keys(await _get_json(self._http, self.url), self.url)
        self._read_at = self._tried_at
        self._last_failed = False
        if not self._keys:
            log.warning("the key set %s has no usable signing key: every token will be refused", self.url)

    async def key(self, kid: str) -> jwt.PyJWK:
        """The key of that id; `InvalidToken` if the issuer does not publish it, `IssuerUnavailable`
        if that cannot be told now."""
        known = self._keys.get(kid)
        if known is not None:
            if self._clock() - self._read_at > self._max_age:
                self._start_reading()
            return known
        reading = self._start_reading()
        if reading is not None:
            # Shielded: a caller that goes away does not cancel the read others wait for.
            await asyncio.shield(reading)
        known = self._keys.get(kid)
        if known is not None:
            return known
        if self._last_failed:
            raise IssuerUnavailable("the token issuer's keys cannot be read now: retry later")
        raise InvalidToken("token is signed with a key its issuer does not publish")

    def _start_reading(self) -> asyncio.Task[None] | None:
        """The read in progress, else a new one unless the last began less than the cooldown ago."""
        if self._reading is None and self._clock() - self._tried_at >= self._cooldown:
            self._reading = asyncio.create_task(self._read())
        return self._reading

    async def _read(self) -> None:
        try:
            await self.load()
        except (_Unreachable, _Unusable) as exc:
            # Keep the keys we have: an issuer briefly down must not refuse tokens it signed.
            self._last_failed = True
            log.warning("cannot read the token issuer's key set: %s", exc)
        finally:
            self._reading = None


class ExternalIssuer:
    """Verifies the bearer JWTs of one issuer against its key set.

    Checked: the signature with the key the token's `kid` names, in that key's algorithm; `iss`
    equal to the issuer; `exp` present and not past; `nbf` and `iat` not in the future; `aud`
    naming `audience` when one is given (a Formance stack's auth server puts the client's id in
    `aud`, so by default it is not checked, as Formance's services do not). `scope` is a
    space-separated string (a JSON list of strings is accepted too).
    """

    def __init__(
        self,
        issuer: str,
        keys: RemoteKeySet,
        *,
        audience: str | None = None,
        check_scopes: bool = False,
        leeway: int = LEEWAY,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.keys = keys
        self.audience = audience
        self.check_scopes = check_scopes
        self._leeway = leeway

    def __repr__(self) -> str:
        return f"ExternalIssuer(issuer={self.issuer!r}, keys={self.keys.url!r})"

    def issued(self, claimed_issuer: object) -> bool:
        """Whether a token claiming `iss` = `claimed_issuer` is this issuer's to verify."""
        return isinstance(claimed_issuer, str) and claimed_issuer.rstrip("/") == self.issuer

    async def verify_bearer(self, token: str) -> TokenClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise refusal(exc) from exc
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token names no signing key (kid)")
        key = await self.keys.key(kid)
        if header.get("alg") != key.algorithm_name:
            raise InvalidToken(f"token is not signed with its key's algorithm ({key.algorithm_name})")
        payload = self._decode(token, key)
        # Compared here rather than by PyJWT, exactly (one trailing slash aside) whatever its version.
        if not self.issued(payload["iss"]):
            raise InvalidToken(f"token was not issued by {self.issuer}")
        return self._claims(payload)

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm_name],
                audience=self.audience,
                leeway=self._leeway,
                options={"require": ["iss", "exp"], "verify_aud": self.audience is not None},
            )
        except jwt.InvalidTokenError as exc:
            raise refusal(exc) from exc

    def _claims(self, payload: dict[str, Any]) -> TokenClaims:
        scope = payload.get("scope", "")
        if isinstance(scope, str):
            scopes = frozenset(scope.split())
        elif isinstance(scope, list) and all(isinstance(item, str) for item in scope):
            scopes = frozenset(scope)
        else:
            raise InvalidToken("token's scope claim is neither a string nor a list of strings")
        subject, token_id = payload.get("sub", ""), payload.get("jti", "")
        if not isinstance(subject, str) or not isinstance(token_id, str):
            raise InvalidToken("token claims have the wrong types")
        not_before = payload.get("nbf")
        return TokenClaims(
            issuer=self.issuer,
            subject=subject,
            scopes=scopes,
            issued_at=int(payload.get("iat", 0)),
            expires_at=int(payload["exp"]),
            token_id=token_id,
            not_before=None if not_before is None else int(not_before),
            scoped=self.check_scopes,
        )


async def discover(
    issuer: str,
    http: httpx.AsyncClient,
    retries: int,
    *,
    audience: str | None = None,
    check_scopes: bool = False,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> ExternalIssuer:
    """The issuer, its key set read: `StartupError` if the issuer is still out of reach after
    `retries` retries (backing off from 0.5 s to 5 s), or at once if what it answers is unusable."""
    issuer = issuer.rstrip("/")
    where = f"the token issuer {issuer} (--auth-issuer)"
    document_url = f"{issuer}/.well-known/openid-configuration"
    try:
        document = await _with_retries(lambda: _get_json(http, document_url), retries, sleep)
        keys = RemoteKeySet(_jwks_uri(document, issuer, document_url), http)
        await _with_retries(keys.load, retries, sleep)
    except _Unreachable as exc:
        raise StartupError(f"cannot reach {where} after {retries} retries: {exc}") from exc
    except _Unusable as exc:
        raise StartupError(f"cannot use {where}: {exc}") from exc
    log.info("auth on: tokens of %s, keys from %s", issuer, keys.url)
    return ExternalIssuer(issuer, keys, audience=audience, check_scopes=check_scopes)


def _jwks_uri(document: Any, issuer: str, url: str) -> str:
    if not isinstance(document, dict):
        raise _Unusable(f"{url} is not an OpenID configuration")
    named = document.get("issuer")
    if not isinstance(named, str) or named.rstrip("/") != issuer:
        # OpenID Connect Discovery §4.3: a document naming another issuer is not this issuer's.
        raise _Unusable(f"{url} names another issuer ({str(named)[:200]!r})")
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
        raise _Unusable(f"{url} has no jwks_uri")
    return jwks_uri


async def _with_retries(read: Callable[[], Awaitable[T]], retries: int, sleep: Callable[[float], Awaitable[None]]) -> T:
    for attempt in range(retries + 1):
        try:
            return await read()
        except _Unreachable as exc:
            if attempt == retries:
                raise
            delay = min(_FIRST_BACKOFF * 2**attempt, _MAX_BACKOFF)
            log.warning("token issuer out of reach (%s): retry %d of %d in %.1f s", exc, attempt + 1, retries, delay)
            await sleep(delay)
    raise AssertionError("unreachable")  # the loop returns or raises


class TrustedIssuers:
    """The issuers whose tokens the service accepts: the built-in one when it has clients
    (`--auth-clients`), and the external one (`--auth-enabled`), side by side. A token goes to
    the one its `iss` names (unverified, only to choose), which then checks everything."""

    def __init__(self, builtin: TokenIssuer, external: ExternalIssuer | None = None) -> None:
        self.builtin = builtin
        self.external = external

    def __repr__(self) -> str:
        return f"TrustedIssuers(builtin={self.builtin!r}, external={self.external!r})"

    @property
    def enabled(self) -> bool:
        return self.builtin.enabled or self.external is not None

    async def verify_bearer(self, token: str) -> TokenClaims:
        external = self.external
        if external is not None and (not self.builtin.enabled or external.issued(_claimed_issuer(token))):
            return await external.verify_bearer(token)
        return await self.builtin.verify_bearer(token)


def _claimed_issuer(token: str) -> object:
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.InvalidTokenError:
        return None  # malformed: whichever verifier gets it says so
