"""OAuth2 client credentials for the CLI: a bearer token from the server's own token endpoint
(`POST /api/auth/oauth/token`, flows/api/auth.py), fetched on the first call and again once when
a token is refused (it lives an hour; `instances show --follow` may outlive it)."""

from __future__ import annotations

from collections.abc import Generator

import httpx

from flows.client.api import ApiError, error_message

TOKEN_PATH = "/api/auth/oauth/token"


class ClientCredentials(httpx.Auth):
    requires_response_body = True

    def __init__(self, token_url: str, client_id: str, client_secret: str) -> None:
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._token: str | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        fresh = self._token is None
        if self._token is None:
            self._token = self._read_token((yield self._token_request()))
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401 and not fresh:
            self._token = self._read_token((yield self._token_request()))
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def _token_request(self) -> httpx.Request:
        form = {"grant_type": "client_credentials", "client_id": self._client_id, "client_secret": self._client_secret}
        return httpx.Request("POST", self._token_url, data=form)

    def _read_token(self, response: httpx.Response) -> str:
        if response.is_success:
            token = _access_token(response)
            if token:
                return token
        raise ApiError(f"cannot get a token for client '{self._client_id}': {error_message(response)}")


def _access_token(response: httpx.Response) -> str | None:
    try:
        token = response.json().get("access_token")
    except (ValueError, AttributeError):
        return None
    return token if isinstance(token, str) else None
