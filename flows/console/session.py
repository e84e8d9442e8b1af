"""Who is looking at the console, and whether a form really comes from it.

With auth on, the console's token (from client credentials or pasted) lives in an HttpOnly,
SameSite=Strict cookie (Secure over https): scripts cannot read it and no other site's page sends
it. Every POST also carries a CSRF token in a hidden field equal to the CSRF cookie (the
double-submit pattern: stateless, so any API node checks it) and, when the browser says where it
comes from (`Origin`), an origin of this very host.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from flows.api.auth import TokenVerifier, required_scopes
from flows.api.bodies import BodyTooLarge, read_body
from flows.api.tokens import InvalidToken, TokenClaims

TOKEN_COOKIE = "flows_console_token"
CSRF_COOKIE = "flows_console_csrf"
CSRF_FIELD = "csrf"
MAX_FORM_BYTES = 1024 * 1024 + 64 * 1024
"""A pasted workflow config may be as large as the API's body limit, plus the other fields."""
MAX_FORM_FIELDS = 256


class Refused(Exception):
    """The request may not do this (403): a forged form, or a token without the scope."""


class FormError(Exception):
    """A form that cannot be read (too large, not a form): the message says why."""


@dataclass(frozen=True)
class Viewer:
    """The person behind a request: `claims` None with auth off."""

    claims: TokenClaims | None
    can_write: bool
    csrf: str

    @property
    def name(self) -> str | None:
        return self.claims.subject if self.claims else None


def _allows(claims: TokenClaims | None, method: str, service: str) -> bool:
    if claims is None or not claims.scoped:
        return True
    return claims.has_any_scope(required_scopes(method, service))


class Sessions:
    def __init__(self, verifier: TokenVerifier, service: str) -> None:
        self.verifier = verifier
        self.service = service
        """The API's scopes are `<service>:read` and `<service>:write` (`--auth-service`)."""

    @property
    def enabled(self) -> bool:
        return self.verifier.enabled

    async def viewer(self, request: Request) -> Viewer | None:
        """Who is looking, when they may read; None when they must log in first."""
        csrf = request.cookies.get(CSRF_COOKIE) or ""
        if not self.enabled:
            return Viewer(None, True, csrf)
        claims = await self.claims(request.cookies.get(TOKEN_COOKIE, ""))
        if claims is None or not _allows(claims, "GET", self.service):
            return None
        return Viewer(claims, _allows(claims, "POST", self.service), csrf)

    async def claims(self, token: str) -> TokenClaims | None:
        if not token:
            return None
        try:
            return await self.verifier.verify_bearer(token)
        except InvalidToken:
            return None

    def readable(self, claims: TokenClaims) -> bool:
        return _allows(claims, "GET", self.service)


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https")


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded form of a POST, its CSRF token and origin checked (`Refused` if forged)."""
    _check_origin(request)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise Refused("this form was not sent by the console")
    try:
        raw = await read_body(request, max_body=MAX_FORM_BYTES)
    except BodyTooLarge as error:
        raise FormError(error.message) from None
    try:
        parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict")
    except ValueError:  # UnicodeDecodeError included
        raise FormError("the form is not valid UTF-8 or has too many fields") from None
    form = {name: values[-1] for name, values in parsed.items()}
    if any("\x00" in text for item in form.items() for text in item):
        # No database text column holds NUL (PostgreSQL refuses it): refuse it everywhere alike.
        raise FormError("the form must not contain NUL characters")
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), form.get(CSRF_FIELD, "").encode()):
        raise Refused("this form was not sent by the console (its CSRF token is missing or wrong): reload the page and try again")
    return form


def _check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is None:
        return  # older browsers and same-origin navigations may omit it: the CSRF token decides
    if urlsplit(origin).netloc != request.headers.get("host", ""):
        raise Refused("this form was sent from another site")
