"""The built-in OAuth2 client-credentials issuer: clients, scopes, JWTs and the signing key.

This module knows nothing about HTTP; `flows.api.auth` puts it behind the token endpoint and the
middleware. It is also agnostic of where the signing key lives: the data dir helper is here, the
PostgreSQL copy is kept by the storage layer, and either just hands bytes to `TokenIssuer`.

Secrets and tokens are never logged nor put in exception messages.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import stat
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

log = logging.getLogger(__name__)

# HS256 is only as strong as its key; RFC 7518 §3.2 asks for a key at least as long as the hash.
MIN_KEY_BYTES = 32

# The scopes the SDKs ask for (orchestration) plus those of the sandbox stack, which reuses this
# issuer. Order matters only for a stable `scope` string in responses.
ALLOWED_SCOPES: tuple[str, ...] = (
    "orchestration:read",
    "orchestration:write",
    "ledger:read",
    "ledger:write",
    "wallets:read",
    "wallets:write",
    "payments:read",
    "payments:write",
)

# OIDC-minded clients add `openid`; it grants nothing here, so it is echoed back but never decides
# which real scopes are granted.
OPENID_SCOPE = "openid"

_ALGORITHM = "HS256"
_REQUIRED_CLAIMS: tuple[str, ...] = ("iss", "sub", "scope", "iat", "exp", "jti")


class InvalidToken(Exception):
    """A bearer token that must be refused; the message is safe to show to the caller."""


class InvalidScope(Exception):
    """None of the requested scopes can be granted (RFC 6749 `invalid_scope`)."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """What the token endpoint returns to the client."""

    access_token: str
    expires_in: int
    scopes: tuple[str, ...]

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The validated content of a bearer token, as handed to request handlers."""

    issuer: str
    subject: str
    scopes: frozenset[str]
    issued_at: int
    expires_at: int
    token_id: str

    def has_any_scope(self, accepted: Iterable[str]) -> bool:
        return not self.scopes.isdisjoint(accepted)


class TokenIssuer:
    """Issues and verifies HS256 JWTs for the clients configured with `--auth-clients`.

    With no clients, auth is off: the token endpoint still hands tokens to anyone (SDKs configured
    with credentials keep working) and the middleware lets every request through.
    """

    def __init__(
        self,
        signing_key: bytes,
        clients: Mapping[str, str],
        issuer: str,
        lifetime: int = 3600,
        *,
        leeway: int = 10,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(signing_key) < MIN_KEY_BYTES:
            raise ValueError(f"the token signing key must be at least {MIN_KEY_BYTES} bytes")
        if lifetime <= 0:
            raise ValueError("the token lifetime must be a positive number of seconds")
        if not issuer:
            raise ValueError("the token issuer name must not be empty")
        self._key = signing_key
        self._clients = dict(clients)
        self.issuer = issuer
        self.lifetime = lifetime
        # Several processes share the key (API nodes, workers); tolerate small clock skew.
        self._leeway = leeway
        self._clock = clock

    def __repr__(self) -> str:
        # Keep the key and secrets out of any repr that ends up in a log or traceback.
        clients = len(self._clients)
        return f"TokenIssuer(issuer={self.issuer!r}, clients={clients}, enabled={self.enabled})"

    @property
    def enabled(self) -> bool:
        """Auth is enforced only when at least one client is configured."""
        return bool(self._clients)

    def authenticate(self, client_id: str, client_secret: str) -> bool:
        """Check a client's credentials in constant time."""
        expected = self._clients.get(client_id)
        # Compare against a throwaway value for unknown clients so timing does not reveal
        # which client ids exist.
        reference = expected if expected is not None else secrets.token_hex(16)
        matches = hmac.compare_digest(reference.encode("utf-8"), client_secret.encode("utf-8"))
        return matches and expected is not None

    def grant_scopes(self, requested: str | None) -> tuple[str, ...]:
        """Granted = requested ∩ allowed; nothing requested → everything allowed.

        Unknown scopes are dropped silently (RFC 6749 §3.3 lets the server narrow the request);
        if nothing real is left of a non-empty request, that is `invalid_scope`.
        """
        asked = set((requested or "").split())
        wants_openid = OPENID_SCOPE in asked
        asked.discard(OPENID_SCOPE)
        if not asked:
            granted = ALLOWED_SCOPES
        else:
            granted = tuple(s for s in ALLOWED_SCOPES if s in asked)
            if not granted:
                raise InvalidScope("none of the requested scopes can be granted")
        return ((OPENID_SCOPE,) if wants_openid else ()) + granted

    def issue(self, subject: str, scopes: Iterable[str]) -> IssuedToken:
        """Sign a token for `subject` (the client id) carrying `scopes`."""
        now = int(self._clock())
        granted = tuple(scopes)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "scope": " ".join(granted),
            "iat": now,
            "exp": now + self.lifetime,
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self._key, algorithm=_ALGORITHM)
        return IssuedToken(access_token=token, expires_in=self.lifetime, scopes=granted)

    def verify(self, token: str) -> TokenClaims:
        """Return the claims of a valid token; raise `InvalidToken` with a clear reason if not."""
        payload = self._decode(token)
        claims = _claims_from_payload(payload)
        self._check_times(claims)
        return claims

    def _decode(self, token: str) -> dict[str, Any]:
        # Time checks are done in `_check_times` with our own clock, so tests and PyJWT agree
        # on "now"; everything else (signature, algorithm, issuer, presence) is PyJWT's job.
        try:
            return jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                issuer=self.issuer,
                options={
                    "require": list(_REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken("token signature is invalid") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("token was not issued by this server") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"token lacks the {exc.claim!r} claim") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise InvalidToken("token is not signed with HS256") from exc
        except jwt.InvalidTokenError as exc:
            raise InvalidToken("token is malformed") from exc

    def _check_times(self, claims: TokenClaims) -> None:
        now = self._clock()
        if claims.expires_at <= now - self._leeway:
            raise InvalidToken("token has expired")
        if claims.issued_at > now + self._leeway:
            raise InvalidToken("token is not valid yet")


def _claims_from_payload(payload: Mapping[str, Any]) -> TokenClaims:
    """Type-check the claims: a token signed with our key is still checked, cheaply."""
    iss, sub, scope, jti = (payload[k] for k in ("iss", "sub", "scope", "jti"))
    iat, exp = payload["iat"], payload["exp"]
    if not all(isinstance(v, str) for v in (iss, sub, scope, jti)):
        raise InvalidToken("token claims have the wrong types")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)):
        raise InvalidToken("token times are not integers")
    return TokenClaims(
        issuer=iss,
        subject=sub,
        scopes=frozenset(scope.split()),
        issued_at=iat,
        expires_at=exp,
        token_id=jti,
    )


def signing_key_from_setting(value: str) -> bytes:
    """The key given with `--auth-signing-key`, used as its UTF-8 bytes."""
    key = value.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        # Never echo the value: it is a secret, even when too short.
        raise ValueError(
            f"--auth-signing-key must be at least {MIN_KEY_BYTES} bytes long "
            f"(got {len(key)}); generate one with e.g. `openssl rand -hex 32`"
        )
    return key


def parse_clients_setting(value: str) -> dict[str, str]:
    """Parse `--auth-clients id:secret[,id:secret…]` into {client id: secret}."""
    clients: dict[str, str] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        client_id, sep, secret = item.partition(":")
        client_id = client_id.strip()
        if not sep or not client_id or not secret:
            # Only the position is reported: the item may contain a secret.
            raise ValueError("--auth-clients entries must look like id:secret (non-empty both)")
        if client_id in clients:
            raise ValueError(f"--auth-clients lists client {client_id!r} twice")
        clients[client_id] = secret
    return clients


def load_or_create_signing_key(path: Path) -> bytes:
    """Read the key kept at `path`, or create it (32 random bytes, mode 0600) if absent.

    Creation is atomic and never overwrites: two processes starting together on the same data
    dir end up with the same key, because the loser of the race reads the winner's file.
    """
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _create_key_file(path, secrets.token_bytes(MIN_KEY_BYTES))
    return _read_key_file(path)


def _read_key_file(path: Path) -> bytes:
    with open(path, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        key = f.read()
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("signing key file %s is readable by other users; chmod 600 it", path)
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(
            f"signing key file {path} holds {len(key)} bytes, fewer than {MIN_KEY_BYTES}; "
            "remove it to have a new key generated (every issued token becomes invalid)"
        )
    return key


def _create_key_file(path: Path, key: bytes) -> None:
    """Write `key` to a private temp file, then hard-link it into place.

    `os.link` fails if `path` exists, unlike `os.replace`: a concurrent creator's key wins
    instead of being silently replaced, and readers never see a partial file.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return  # someone else created it first; theirs is the key
        _fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    # Make the new directory entry durable, so a crash cannot lose a key already handed out.
    # Best effort: some platforms and filesystems cannot open or fsync a directory.
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
