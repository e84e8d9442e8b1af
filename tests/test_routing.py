"""The API's router (flows/routing.py `SegmentRouter`): a path's route found segment by segment,
with the answers Starlette's own router gives (404, the route's 405 with `Allow`)."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from flows.routing import SegmentRouter, routes_by_path


def _answer(name: str):  # noqa: ANN202 (an endpoint)
    async def endpoint(request: Request) -> Response:
        return JSONResponse({"route": name, "params": request.path_params, "template": request.scope["route"].path})

    return endpoint


ROUTES = routes_by_path(
    [
        ("/items/{item_id}", "GET", _answer("item")),
        ("/items/{item_id}", "DELETE", _answer("delete item")),
        ("/items/new", "GET", _answer("new item")),
        ("/items/new/{part}/x", "GET", _answer("part of the new item")),
        ("/items/{item_id}/parts/{part}", "GET", _answer("part")),
        ("/v2/items", "POST", _answer("v2 items")),
        ("/", "GET", _answer("root")),
    ]
)


class _Errors:
    """What flows/api/app.py `ApiEdge` does with the router's HTTP errors, in short."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except HTTPException as error:
            await JSONResponse({"status": error.status_code}, error.status_code, headers=error.headers)(scope, receive, send)


class _App(Starlette):
    def build_middleware_stack(self) -> ASGIApp:
        return _Errors(SegmentRouter(self.router.routes))


@pytest.fixture
async def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=_App(routes=ROUTES)), base_url="http://test")


async def test_a_path_reaches_its_route_with_its_parameters(client: httpx.AsyncClient) -> None:
    answer = await client.get("/items/abc/parts/wheel")
    assert answer.json() == {"route": "part", "params": {"item_id": "abc", "part": "wheel"}, "template": "/items/{item_id}/parts/{part}"}
    assert (await client.get("/")).json()["route"] == "root"
    assert (await client.post("/v2/items")).json()["route"] == "v2 items"


async def test_a_literal_segment_wins_over_a_parameter_with_a_way_back(client: httpx.AsyncClient) -> None:
    assert (await client.get("/items/new")).json()["route"] == "new item"
    assert (await client.get("/items/other")).json()["params"] == {"item_id": "other"}
    assert (await client.get("/items/new/wheel/x")).json()["params"] == {"part": "wheel"}
    # "new" leads nowhere for this path: it is the item's id after all.
    assert (await client.get("/items/new/parts/wheel")).json()["params"] == {"item_id": "new", "part": "wheel"}


async def test_each_method_of_a_path_is_served_and_others_are_405_with_allow(client: httpx.AsyncClient) -> None:
    assert (await client.delete("/items/abc")).json()["route"] == "delete item"
    assert (await client.head("/items/abc")).status_code == 200
    refused = await client.put("/items/abc")
    assert refused.status_code == 405
    assert set(refused.headers["allow"].split(", ")) == {"GET", "HEAD", "DELETE"}


@pytest.mark.parametrize("path", ["/nothing", "/items", "/items/abc/parts", "/items//parts/x", "/v2/items/extra", "/items/abc/parts/x/y", "//items/abc", "/items/abc/"])
async def test_a_path_no_route_has_is_404(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 404


def test_only_routes_it_can_walk_are_taken() -> None:
    async def endpoint(_request: Request) -> Response:
        return Response()

    with pytest.raises(ValueError, match="plain-parameter"):
        SegmentRouter([Route("/items/{number:int}", endpoint)])
    with pytest.raises(ValueError, match="two routes"):
        SegmentRouter([Route("/items/{a}", endpoint), Route("/items/{b}", endpoint)])
