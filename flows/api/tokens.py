"""The built-in OAuth2 client-credentials issuer: clients, scopes, JWTs and the signing key.

This module knows nothing about HTTP; `flows.api.auth` puts it behind the token endpoint and the
middleware. It is also agnostic of where the keys live: the data dir helpers are here, the
PostgreSQL copies are kept by the storage layer, and either just hands bytes to `TokenIssuer`.

Two keys: the shared secret of `--auth-signing-key` (HS256: tokens minted with it are accepted, as
they always were), and an RSA key pair (`IssuerKey`) that `flows serve` signs its tokens with
(RS256, the algorithm every JWT verifier and every Formance service accepts) and publishes as a
JWKS, so that another service — another Flows with `--auth-enabled` — can verify them without
knowing any secret.

Clients are configured as `id:secret[:scope+scope…]` entries (`--auth-clients`, comma-separated,
or one per line in `--auth-clients-file`): everything after the secret's `:` is the list of scopes
the client's tokens may carry; without a list, every scope. Neither id nor secret can contain `:`.

The scopes themselves are the issuer's argument: the API's own are ORCHESTRATION_SCOPES, and
whoever composes the service adds those of what it mounts beside the API (flows/composition.py).

Secrets and tokens are never logged nor put in exception messages.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

log = logging.getLogger(__name__)

# HS256 is only as strong as its key; RFC 7518 §3.2 asks for a key at least as long as the hash.
MIN_KEY_BYTES = 32

# The scopes the SDKs ask for. Order matters only for a stable `scope` string in responses.
ORCHESTRATION_SCOPES: tuple[str, ...] = ("orchestration:read", "orchestration:write")

# OIDC-minded clients add `openid`; it grants nothing here, so it is echoed back but never decides
# which real scopes are granted.
OPENID_SCOPE = "openid"

# Exactly these algorithms, each with its own key: a token whose header says anything else
# (`none`, HS512, `hs256`, RS256 without the issuer's key pair) is refused before its signature is
# even looked at.
_SHARED_ALGORITHM = "HS256"
_KEY_PAIR_ALGORITHM = "RS256"
_RSA_KEY_BITS = 2048
_REQUIRED_CLAIMS: tuple[str, ...] = ("iss", "aud", "sub", "scope", "iat", "exp", "jti")


class InvalidToken(Exception):
    """A bearer token that must be refused; the message is safe to show to the caller."""


_REFUSALS: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.InvalidSignatureError, "token signature is invalid"),
    (jwt.ExpiredSignatureError, "token has expired"),
    (jwt.ImmatureSignatureError, "token is not valid yet"),
    (jwt.InvalidAudienceError, "token is not meant for this service (wrong audience)"),
)


def refusal(exc: jwt.InvalidTokenError) -> InvalidToken:
    """Why PyJWT refused a token, in words safe to show the caller (for this issuer and an
    external one alike)."""
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return InvalidToken(f"token lacks the {exc.claim!r} claim")
    for kind, reason in _REFUSALS:
        if isinstance(exc, kind):
            return InvalidToken(reason)
    return InvalidToken("token is malformed")


class InvalidScope(Exception):
    """None of the requested scopes can be granted (RFC 6749 `invalid_scope`)."""


@dataclass(frozen=True, slots=True)
class AuthClient:
    """A client of the issuer and the scopes its tokens may carry at most."""

    client_id: str
    secret: str = dataclasses.field(repr=False)
    scopes: tuple[str, ...]

    def has_scopes(self, wanted: Iterable[str]) -> bool:
        return set(wanted) - {OPENID_SCOPE} <= set(self.scopes)


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
    not_before: int | None = None
    scoped: bool = True
    """Whether its scopes limit what it may do: tokens of an external issuer without
    `--auth-check-scopes` may do anything on the API (the sandbox's paths check scopes whatever)."""

    def has_any_scope(self, accepted: Iterable[str]) -> bool:
        return not self.scopes.isdisjoint(accepted)


def readable_services(claims: TokenClaims | None) -> tuple[str, ...] | None:
    """The stack services a trigger test may `link()` to, for the API and the console alike:
    those the caller's token has a scope of (`ledger:read` → ledger), so that orchestration scopes
    alone read no ledger data through the worker's credentials; any (None) with auth off."""
    if claims is None:
        return None
    return tuple(sorted({scope.split(":", 1)[0] for scope in claims.scopes if ":" in scope}))


class IssuerKey:
    """The RSA key pair the issuer signs with, and its public half as a JWK (RFC 7517).

    Its key id is the RFC 7638 thumbprint of the public key: every process holding the same key
    (API nodes sharing a PostgreSQL database) names it alike, and a new key gets a new id.
    """

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self.private_key = private_key
        self.public_key = private_key.public_key()
        jwk = RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        self.public_jwk: dict[str, str] = {"kty": "RSA", "n": jwk["n"], "e": jwk["e"]}
        self.key_id = _thumbprint(self.public_jwk)

    def __repr__(self) -> str:
        return f"IssuerKey(key_id={self.key_id!r})"

    @classmethod
    def from_pem(cls, pem: bytes, where: str) -> IssuerKey:
        """The key pair of a PEM private key (PKCS#8); a clear error naming `where` if it is not one."""
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where} does not hold an RSA private key in PEM") from exc
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < _RSA_KEY_BITS:
            raise ValueError(f"{where} does not hold an RSA private key of at least {_RSA_KEY_BITS} bits")
        return cls(key)

    @staticmethod
    def generate_pem() -> bytes:
        """A new private key, as PEM (PKCS#8), for `from_pem`."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_KEY_BITS)
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    def jwk(self) -> dict[str, str]:
        """What a JWKS publishes of it."""
        return {**self.public_jwk, "kid": self.key_id, "use": "sig", "alg": _KEY_PAIR_ALGORITHM}


def _thumbprint(public_jwk: dict[str, str]) -> str:
    members = json.dumps({name: public_jwk[name] for name in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(members.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class TokenIssuer:
    """Issues and verifies JWTs for the clients configured with `--auth-clients`: RS256 with its
    `key_pair` when it has one (`flows serve` always gives it one), else HS256 with
    `signing_key`; tokens signed HS256 with `signing_key` are accepted in either case.

    With no clients, auth is off: the token endpoint still hands tokens to anyone (SDKs configured
    with credentials keep working) and the middleware lets every request through.

    Tokens carry `aud` = the audience, by default the issuer's name ("flows" in `flows serve`):
    the API and what is mounted beside it are one service behind one key, so one audience; a
    token minted with the same key for another audience is refused.

    `scopes` are all those it knows, granted in full when auth is off.

    `external_issuer`: the issuer whose tokens the service requires instead (`--auth-issuer`);
    with it and no clients, this issuer hands out no tokens at all.
    """

    def __init__(
        self,
        signing_key: bytes,
        clients: Iterable[AuthClient],
        issuer: str,
        lifetime: int = 3600,
        *,
        audience: str | None = None,
        scopes: Sequence[str] = ORCHESTRATION_SCOPES,
        leeway: int = 10,
        clock: Callable[[], float] = time.time,
        key_pair: IssuerKey | None = None,
        external_issuer: str | None = None,
    ) -> None:
        if len(signing_key) < MIN_KEY_BYTES:
            raise ValueError(f"the token signing key must be at least {MIN_KEY_BYTES} bytes")
        if lifetime <= 0:
            raise ValueError("the token lifetime must be a positive number of seconds")
        if not issuer:
            raise ValueError("the token issuer name must not be empty")
        self._key = signing_key
        self.key_pair = key_pair
        self.external_issuer = external_issuer
        self._clients = {client.client_id: client for client in clients}
        self.issuer = issuer
        self.audience = audience or issuer
        self.scopes = tuple(scopes)
        # Also the longest `exp - iat` accepted: a forged or foreign token cannot outlive ours.
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

    @property
    def algorithms(self) -> tuple[str, ...]:
        """Those its tokens may be signed with."""
        return (_KEY_PAIR_ALGORITHM, _SHARED_ALGORITHM) if self.key_pair else (_SHARED_ALGORITHM,)

    def key_set(self) -> dict[str, list[dict[str, str]]]:
        """Its JWKS (RFC 7517 §5): the public key of its key pair; the shared key is no one's business."""
        return {"keys": [self.key_pair.jwk()] if self.key_pair else []}

    def authenticate(self, client_id: str, client_secret: str) -> bool:
        """Check a client's credentials in constant time."""
        client = self._clients.get(client_id)
        # Compare against a throwaway value for unknown clients so timing does not reveal
        # which client ids exist.
        reference = client.secret if client is not None else secrets.token_hex(16)
        matches = hmac.compare_digest(reference.encode("utf-8"), client_secret.encode("utf-8"))
        return matches and client is not None

    def grant_scopes(self, client_id: str, requested: str | None) -> tuple[str, ...]:
        """Granted = requested ∩ allowed for the client; nothing requested → all it may have.

        Unknown scopes and scopes the client may not have are dropped silently (RFC 6749 §3.3
        lets the server narrow the request; the response's `scope` says what was granted); if
        nothing is left of a non-empty request, that is `invalid_scope`.
        """
        allowed = self._allowed_scopes(client_id)
        asked = set((requested or "").split())
        wants_openid = OPENID_SCOPE in asked
        asked.discard(OPENID_SCOPE)
        if not asked:
            granted = allowed
        else:
            granted = tuple(s for s in allowed if s in asked)
            if not granted:
                raise InvalidScope("none of the requested scopes can be granted to this client")
        return ((OPENID_SCOPE,) if wants_openid else ()) + granted

    def _allowed_scopes(self, client_id: str) -> tuple[str, ...]:
        if not self.enabled:
            return self.scopes  # auth off: the token guards nothing
        client = self._clients.get(client_id)
        return client.scopes if client is not None else ()

    def issue(self, subject: str, scopes: Iterable[str]) -> IssuedToken:
        """Sign a token for `subject` (the client id) carrying `scopes`."""
        now = int(self._clock())
        granted = tuple(scopes)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "scope": " ".join(granted),
            "iat": now,
            "exp": now + self.lifetime,
            "jti": uuid.uuid4().hex,
        }
        if self.key_pair is None:
            token = jwt.encode(claims, self._key, algorithm=_SHARED_ALGORITHM)
        else:
            pair = self.key_pair
            token = jwt.encode(claims, pair.private_key, algorithm=_KEY_PAIR_ALGORITHM, headers={"kid": pair.key_id})
        return IssuedToken(access_token=token, expires_in=self.lifetime, scopes=granted)

    def verify(self, token: str) -> TokenClaims:
        """Return the claims of a valid token; raise `InvalidToken` with a clear reason if not."""
        payload = self._decode(token)
        claims = _claims_from_payload(payload)
        self._check_times(claims)
        return self._within_client_rights(claims)

    async def verify_bearer(self, token: str) -> TokenClaims:
        """`verify`, as the bearer middleware calls it (flows.api.auth.TokenVerifier)."""
        return self.verify(token)

    def _verification_key(self, token: str) -> tuple[Any, str]:
        """The key and algorithm to check `token` with: its header picks one of ours, no more."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise refusal(exc) from exc
        if self.key_pair is not None and header.get("alg") == _KEY_PAIR_ALGORITHM:
            if header.get("kid") != self.key_pair.key_id:
                raise InvalidToken("token is signed with a key this server does not have")
            return self.key_pair.public_key, _KEY_PAIR_ALGORITHM
        return self._key, _SHARED_ALGORITHM

    def _decode(self, token: str) -> dict[str, Any]:
        # Time checks are done in `_check_times` with our own clock, so tests and PyJWT agree
        # on "now"; everything else (signature, algorithm, issuer, audience, presence) is
        # PyJWT's job.
        key, algorithm = self._verification_key(token)
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self.issuer,
                audience=self.audience,
                options={
                    "require": list(_REQUIRED_CLAIMS),
                    "strict_aud": True,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("token was not issued by this server") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise InvalidToken(f"token is not signed with {' or '.join(self.algorithms)}") from exc
        except jwt.InvalidTokenError as exc:
            raise refusal(exc) from exc

    def _check_times(self, claims: TokenClaims) -> None:
        now = self._clock()
        if claims.expires_at <= now - self._leeway:
            raise InvalidToken("token has expired")
        if claims.issued_at > now + self._leeway:
            raise InvalidToken("token is issued in the future")
        if claims.not_before is not None and claims.not_before > now + self._leeway:
            raise InvalidToken("token is not valid yet")
        if claims.expires_at - claims.issued_at > self.lifetime:
            raise InvalidToken(f"token lives longer than the {self.lifetime} s this server issues")

    def _within_client_rights(self, claims: TokenClaims) -> TokenClaims:
        """Narrow a token to what its client may have now: a client removed from the
        configuration, or given fewer scopes, loses them at once, not when its tokens expire."""
        if not self.enabled:
            return claims
        client = self._clients.get(claims.subject)
        if client is None:
            raise InvalidToken("token belongs to no configured client")
        return dataclasses.replace(claims, scopes=claims.scopes & frozenset(client.scopes))


def _claims_from_payload(payload: dict[str, Any]) -> TokenClaims:
    """Type-check the claims: a token signed with our key is still checked, cheaply."""
    iss, sub, scope, jti = (payload[k] for k in ("iss", "sub", "scope", "jti"))
    times = [payload["iat"], payload["exp"]] + ([payload["nbf"]] if "nbf" in payload else [])
    if not all(isinstance(v, str) for v in (iss, sub, scope, jti)):
        raise InvalidToken("token claims have the wrong types")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in times):
        raise InvalidToken("token times are not integers")
    return TokenClaims(
        issuer=iss,
        subject=sub,
        scopes=frozenset(scope.split()),
        issued_at=payload["iat"],
        expires_at=payload["exp"],
        token_id=jti,
        not_before=payload.get("nbf"),
    )


# --------------------------------------------------------------------------- configuration


def signing_key_from_setting(value: str) -> bytes:
    """The key given with `--auth-signing-key` (or its file), used as its UTF-8 bytes."""
    key = value.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        # Never echo the value: it is a secret, even when too short.
        raise ValueError(
            f"--auth-signing-key must be at least {MIN_KEY_BYTES} bytes long "
            f"(got {len(key)}); generate one with e.g. `openssl rand -hex 32`"
        )
    return key


def given_secret(value: str | None, path: Path | None, flag: str) -> str | None:
    """The secret given with `flag` or kept in the file of `flag`-file; None if neither.

    The file is there so that secrets need not be on a command line, where `ps` shows them.
    """
    if value and path is not None:
        raise ValueError(f"give {flag} or {flag}-file, not both")
    if path is None:
        return value or None
    secret = read_secret_file(path, f"{flag}-file").strip()
    if not secret:
        raise ValueError(f"{flag}-file {path} is empty")
    return secret


def read_secret_file(path: Path, flag: str) -> str:
    """The UTF-8 text of a file holding secrets; a clear error naming `flag` if unreadable."""
    try:
        with open(path, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            content = f.read()
        text = content.decode("utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {flag} {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{flag} {path} is not UTF-8 text") from exc
    _warn_if_shared(path, mode)
    return text


def load_clients(setting: str | None, path: Path | None, scopes: Sequence[str] = ORCHESTRATION_SCOPES) -> list[AuthClient]:
    """The clients of `--auth-clients` (comma-separated) and of `--auth-clients-file` (one per
    line, `#` comments and blank lines ignored), together; the same id twice is refused.
    `scopes` are those a client may list, and has all of when it lists none."""
    entries = [
        (f"--auth-clients entry {number}", item.strip()) for number, item in enumerate((setting or "").split(","), start=1) if item.strip()
    ]
    if path is not None:
        lines = read_secret_file(path, "--auth-clients-file").splitlines()
        entries += [
            (f"--auth-clients-file {path} line {number}", line.strip())
            for number, line in enumerate(lines, start=1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
    clients: dict[str, AuthClient] = {}
    for where, entry in entries:
        client = parse_client(entry, where, scopes)
        if client.client_id in clients:
            raise ValueError(f"{where}: client {client.client_id!r} is configured twice")
        clients[client.client_id] = client
    return list(clients.values())


def parse_client(entry: str, where: str, scopes: Sequence[str]) -> AuthClient:
    """One `id:secret[:scope+scope…]` entry. Errors name `where` and never quote the entry,
    whose secret part may be anything (an old-style secret with `:` in it included)."""
    client_id, has_secret, rest = (part.strip() for part in entry.partition(":"))
    secret, has_scopes, scope_list = (part.strip() for part in rest.partition(":"))
    if not has_secret or not client_id or not secret:
        raise ValueError(f"{where}: expected id:secret[:scope+scope…] with a non-empty id and secret")
    if not has_scopes:
        return AuthClient(client_id, secret, tuple(scopes))
    listed = [scope.strip() for scope in scope_list.split("+")]
    for number, scope in enumerate(listed, start=1):
        if scope not in scopes:
            # Not quoted: with a secret containing ':', this "scope" would be part of it.
            raise ValueError(
                f"{where}: scope {number} of client {client_id!r} is not one of "
                f"{', '.join(scopes)} (scopes are '+'-separated; a secret cannot contain ':')"
            )
    return AuthClient(client_id, secret, tuple(scope for scope in scopes if scope in listed))


def client_with_scopes(clients: Iterable[AuthClient], wanted: Iterable[str]) -> AuthClient | None:
    """The first client allowed every scope of `wanted` (`openid` aside), if any."""
    wanted = tuple(wanted)
    return next((client for client in clients if client.has_scopes(wanted)), None)


# --------------------------------------------------------------------------- the key file


def load_or_create_signing_key(path: Path) -> bytes:
    """Read the key kept at `path`, or create it (32 random bytes, mode 0600) if absent."""
    key = load_or_create_key_file(path, lambda: secrets.token_bytes(MIN_KEY_BYTES))
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(
            f"signing key file {path} holds {len(key)} bytes, fewer than {MIN_KEY_BYTES}; "
            "remove it to have a new key generated (every issued token becomes invalid)"
        )
    return key


def load_or_create_issuer_key(path: Path) -> IssuerKey:
    """Read the key pair kept at `path` (PEM), or generate it (mode 0600) if absent."""
    pem = load_or_create_key_file(path, IssuerKey.generate_pem)
    return IssuerKey.from_pem(pem, f"issuer key file {path} (remove it to have a new key generated)")


def load_or_create_key_file(path: Path, new_key: Callable[[], bytes]) -> bytes:
    """Read the key kept at `path`, or create it with `new_key()` (mode 0600) if absent.

    Creation is atomic and never overwrites: two processes starting together on the same data
    dir end up with the same key, because the loser of the race reads the winner's file.
    """
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _create_key_file(path, new_key())
    return _read_key_file(path)


def _read_key_file(path: Path) -> bytes:
    with open(path, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        key = f.read()
    _warn_if_shared(path, mode)
    return key


def _warn_if_shared(path: Path, mode: int) -> None:
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("secret file %s is readable by other users; chmod 600 it", path)


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
