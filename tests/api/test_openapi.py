"""The OpenAPI document (flows/api/openapi.py) is true: it is valid OpenAPI, it names every route
the application serves with the same methods and nothing else, under each of its servers, and a
real `flows serve` serves it, and a page of it, to anyone."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import schemathesis
from starlette.routing import Match, Route

from flows.api.app import canonical_path, create_app
from flows.api.openapi import STAGE_PARAMETERS, document
from flows.api.tokens import TokenIssuer
from flows.stages import STAGES
from tests.support.service import FlowsProcess

ORIGIN = "http://flows.example"
METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH"}
"""What an OpenAPI operation can be; Starlette adds HEAD to every GET, which the document says once."""


def _spec() -> dict[str, Any]:
    return document("test", ORIGIN)


def _app() -> Any:
    # The route table only: no request reaches a handler, so no application behind it.
    return create_app(None, TokenIssuer(b"k" * 32, [], issuer="flows"))  # type: ignore[arg-type]


def _template(path: str) -> str:
    """A path with its parameters unnamed: `/workflows/{workflowID}` → `/workflows/{}`."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def _served_routes() -> dict[str, set[str]]:
    routes = [route for route in _app().routes if isinstance(route, Route)]
    return {_template(route.path): set(route.methods or ()) & METHODS for route in routes}


def _documented() -> dict[str, set[str]]:
    return {_template(path): {method.upper() for method in item} for path, item in _spec()["paths"].items()}


def test_the_document_is_valid_openapi() -> None:
    schemathesis.openapi.from_dict(_spec()).validate()


def test_every_served_route_is_documented_with_its_methods_and_nothing_else() -> None:
    assert _documented() == _served_routes()


async def _routed_path(path: str) -> str:
    """The path the router sees for a request to `path` (the gateway prefix and a trailing slash
    taken off by the app's middleware)."""
    return canonical_path(path)


@pytest.mark.parametrize("server", [server["url"] for server in _spec()["servers"]])
async def test_every_documented_operation_is_routed_under_each_server(server: str) -> None:
    routes = [route for route in _app().routes if isinstance(route, Route)]
    for path, item in _spec()["paths"].items():
        concrete = server.rstrip("/") + re.sub(r"\{[^}]+\}", "some-id", path)
        routed = await _routed_path(concrete)
        for method in item:
            scope = {"type": "http", "path": routed, "method": method.upper()}
            matches = [route for route in routes if route.matches(scope)[0] == Match.FULL]
            assert matches, f"{method.upper()} {concrete} is documented but not served"


def test_every_stage_kind_is_documented_with_its_parameters() -> None:
    stage = _spec()["components"]["schemas"]["Stage"]
    assert set(stage["properties"]) == set(STAGES) == set(STAGE_PARAMETERS)


def test_error_codes_are_those_the_sdks_know() -> None:
    error = _spec()["components"]["schemas"]["Error"]
    assert error["properties"]["errorCode"]["enum"] == ["VALIDATION", "NOT_FOUND", "INTERNAL"]


@pytest.mark.parametrize("path", ["/openapi.json", "/v2/openapi.json", "/api/orchestration/openapi.json"])
def test_the_server_serves_the_document_without_a_token(auth_service: FlowsProcess, path: str) -> None:
    response = httpx.get(auth_service.url + path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    served = response.json()
    assert served == document(served["info"]["version"], auth_service.url)
    token_url = served["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["tokenUrl"]
    assert token_url == f"{auth_service.url}/api/auth/oauth/token"


@pytest.mark.parametrize("path", ["/docs", "/api/orchestration/docs"])
def test_the_docs_page_shows_every_operation_without_a_token(auth_service: FlowsProcess, path: str) -> None:
    response = httpx.get(auth_service.url + path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for item in _spec()["paths"].values():
        for operation in item.values():
            assert f'id="{operation["operationId"]}"' in response.text
    assert 'id="schema-Instance"' in response.text


def test_the_rest_still_needs_a_token(auth_service: FlowsProcess) -> None:
    assert httpx.get(auth_service.url + "/workflows").status_code == 401
