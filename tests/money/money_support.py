"""Helpers of the money tests: a client of the stack a `flows serve` moves money on (its own
sandbox, or the sandbox of another `flows serve` behind OAuth2), to seed it, read balances and
read the sandbox's recording of the requests it received; and a client of the Flows API that runs
workflows on it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from tests.support.polling import eventually
from tests.support.stack import HOOKS

ASSET = "USD/2"
WALLETS_LEDGER = "wallets-002"
INTERNAL_LEDGER = "orchestration-000-internal"
# The client of the `remote` stack's built-in OAuth2 issuer that the worker authenticates as.
STACK_CLIENT = ("stack", "stack-secret")


def remote_worker_flags(stack: Any) -> tuple[str, ...]:
    """`flows serve` flags moving money on the stack served by the FlowsProcess `stack`."""
    client_id, secret = STACK_CLIENT
    return (
        "--stack-url",
        stack.url,
        "--stack-client-id",
        client_id,
        "--stack-client-secret",
        secret,
    )


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


class Stack:
    """The sandbox stack at `url`, with a bearer token of `credentials` when it has auth on."""

    def __init__(self, url: str, credentials: tuple[str, str] | None = None) -> None:
        self.url = url
        headers = {}
        if credentials is not None:
            client_id, secret = credentials
            token = httpx.post(
                f"{url}/api/auth/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": secret,
                },
            )
            assert token.status_code == 200, token.text
            headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        self.http = httpx.Client(base_url=url, headers=headers, timeout=30)
        self._seen = 0

    # -- ledger -------------------------------------------------------------------------------

    def new_ledger(self) -> str:
        name = unique("l")
        response = self.http.post(f"/api/ledger/v2/{name}")
        assert response.status_code == 204, response.text
        return name

    def transact(
        self,
        ledger: str,
        source: str,
        destination: str,
        amount: int,
        asset: str = ASSET,
    ) -> None:
        posting = {
            "source": source,
            "destination": destination,
            "amount": amount,
            "asset": asset,
        }
        response = self.http.post(
            f"/api/ledger/v2/{ledger}/transactions", json={"postings": [posting]}
        )
        assert response.status_code == 200, response.text

    def fund(self, ledger: str, account: str, amount: int, asset: str = ASSET) -> None:
        self.transact(ledger, "world", account, amount, asset)

    def set_metadata(self, ledger: str, account: str, metadata: dict[str, str]) -> None:
        response = self.http.post(
            f"/api/ledger/v2/{ledger}/accounts/{account}/metadata", json=metadata
        )
        assert response.status_code == 204, response.text

    def balance(self, ledger: str, account: str, asset: str = ASSET) -> int:
        """The balance as ledger v1 shows it, checked against ledger v2's volumes."""
        v1 = self.http.get(f"/api/ledger/{ledger}/accounts/{account}")
        assert v1.status_code == 200, v1.text
        found = int(v1.json()["data"]["balances"].get(asset, 0))
        v2 = self.http.get(
            f"/api/ledger/v2/{ledger}/accounts/{account}", params={"expand": "volumes"}
        )
        if v2.status_code == 404:  # v2 knows no account that was never used
            assert found == 0
            return found
        assert v2.status_code == 200, v2.text
        volumes = v2.json()["data"].get("volumes", {}).get(asset, {"balance": 0})
        assert int(volumes["balance"]) == found, (v1.json(), v2.json())
        return found

    def balances(
        self, ledger: str, *accounts: str, asset: str = ASSET
    ) -> dict[str, int]:
        return {account: self.balance(ledger, account, asset) for account in accounts}

    def transactions(self, ledger: str) -> list[dict[str, Any]]:
        """Every transaction of a (small) ledger, oldest first."""
        response = self.http.get(
            f"/api/ledger/v2/{ledger}/transactions", params={"pageSize": 100}
        )
        assert response.status_code == 200, response.text
        cursor = response.json()["cursor"]
        assert not cursor["hasMore"]
        return list(reversed(cursor["data"]))

    # -- wallets ------------------------------------------------------------------------------

    def create_wallet(
        self, metadata: dict[str, str] | None = None, name: str | None = None
    ) -> dict[str, Any]:
        body = {"name": name or unique("w"), "metadata": metadata or {}}
        response = self.http.post("/api/wallets/wallets", json=body)
        assert response.status_code == 201, response.text
        return response.json()["data"]  # type: ignore[no-any-return]

    def create_balance(self, wallet_id: str, name: str) -> None:
        response = self.http.post(
            f"/api/wallets/wallets/{wallet_id}/balances", json={"name": name}
        )
        assert response.status_code == 201, response.text

    def credit_wallet(
        self, wallet_id: str, amount: int, balance: str = "main", asset: str = ASSET
    ) -> None:
        body = {
            "amount": {"amount": amount, "asset": asset},
            "balance": balance,
            "metadata": {},
            "sources": [],
        }
        response = self.http.post(f"/api/wallets/wallets/{wallet_id}/credit", json=body)
        assert response.status_code == 204, response.text

    def wallet_balance(
        self, wallet_id: str, balance: str = "main", asset: str = ASSET
    ) -> int:
        response = self.http.get(f"/api/wallets/wallets/{wallet_id}/balances/{balance}")
        assert response.status_code == 200, response.text
        found = int(response.json()["data"]["assets"].get(asset, 0))
        if balance == "main":
            wallet = self.http.get(f"/api/wallets/wallets/{wallet_id}").json()["data"]
            assert int(wallet["balances"]["main"]["assets"].get(asset, 0)) == found
        return found

    # -- payments -----------------------------------------------------------------------------

    def connector(self, provider: str = "STRIPE") -> str:
        found = self.http.get("/api/payments/connectors").json()["data"]
        return next(str(c["connectorID"]) for c in found if c["provider"] == provider)

    def payment_account(self, kind: str = "INTERNAL", provider: str = "STRIPE") -> str:
        body = {
            "reference": unique("acct_"),
            "connectorID": self.connector(provider),
            "createdAt": "2025-03-01T10:00:00Z",
            "accountName": "psp account",
            "type": kind,
            "defaultAsset": ASSET,
        }
        response = self.http.post("/api/payments/accounts", json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["data"]["id"])

    def payment(self, amount: int, asset: str = ASSET) -> str:
        body = {
            "reference": unique("py_"),
            "connectorID": self.connector(),
            "createdAt": "2025-03-01T10:00:00Z",
            "type": "PAY-IN",
            "amount": amount,
            "asset": asset,
            "scheme": "visa",
            "status": "SUCCEEDED",
            "destinationAccountID": self.payment_account(),
        }
        response = self.http.post("/api/payments/payments", json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["data"]["id"])

    def transfers(self, reference: str) -> list[dict[str, Any]]:
        """The transfer initiations with this reference."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"pageSize": 100}
        while True:
            cursor = self.http.get(
                "/api/payments/transfer-initiations", params=params
            ).json()["cursor"]
            found += [t for t in cursor["data"] if t["reference"] == reference]
            if not cursor.get("hasMore"):
                return found
            params = {"cursor": cursor["next"]}

    # -- test hooks ---------------------------------------------------------------------------

    def _recorded(self, since: int) -> list[dict[str, Any]]:
        response = self.http.get(f"{HOOKS}/requests", params={"since": since})
        assert response.status_code == 200, response.text
        return response.json()["data"]  # type: ignore[no-any-return]

    def mark(self) -> int:
        """The id of the latest recorded request: what comes after it is the test's."""
        found = self._recorded(self._seen)
        if found:
            self._seen = int(found[-1]["id"])
        return self._seen

    def received(self, since: int, tokens: Iterable[str]) -> list[dict[str, Any]]:
        """Requests recorded after `since` that name one of `tokens` (an instance id, a ledger,
        a wallet, a payment…): the test's own, even if something else uses the sandbox meanwhile."""
        wanted = [token for token in tokens if token]
        mine = []
        for request in self._recorded(since):
            text = " ".join(
                [
                    request["path"],
                    request["query"],
                    request["idempotencyKey"] or "",
                    json.dumps(request["body"]),
                ]
            )
            if any(token in text for token in wanted):
                mine.append(
                    {
                        key: request[key]
                        for key in (
                            "method",
                            "path",
                            "query",
                            "idempotencyKey",
                            "body",
                            "status",
                        )
                    }
                )
        return mine

    def hold(
        self, method: str, path: str, when: str = "after-commit", count: int = 1
    ) -> str:
        body = {"method": method, "path": path, "when": when, "count": count}
        response = self.http.post(f"{HOOKS}/holds", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["data"]["id"])

    def held(self, hold_id: str) -> int:
        return int(self.http.get(f"{HOOKS}/holds/{hold_id}").json()["data"]["waiting"])

    def release(self, hold_id: str) -> None:
        assert self.http.delete(f"{HOOKS}/holds/{hold_id}").status_code == 204


@dataclass
class Flows:
    """The Flows API whose worker moves money on `stack`."""

    name: str
    url: str
    stack: Stack

    def create_workflow(self, stages: list[dict[str, Any]]) -> httpx.Response:
        return httpx.post(f"{self.url}/workflows", json={"stages": stages}, timeout=10)

    def start(
        self, stages: list[dict[str, Any]], variables: dict[str, str] | None = None
    ) -> str:
        created = self.create_workflow(stages)
        assert created.status_code == 201, created.text
        workflow = created.json()["data"]["id"]
        response = httpx.post(
            f"{self.url}/workflows/{workflow}/instances",
            json=variables or {},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["data"]["id"])

    def instance(self, instance_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/instances/{instance_id}", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["data"]  # type: ignore[no-any-return]

    def ended(self, instance_id: str, timeout: float = 20) -> dict[str, Any]:
        try:
            return eventually(
                lambda: (found := self.instance(instance_id))["terminated"] and found,
                timeout,
            )  # type: ignore[no-any-return]
        except AssertionError as error:
            activities = httpx.get(
                f"{self.url}/instances/{instance_id}/stages/0/history", timeout=10
            ).text
            raise AssertionError(
                f"instance {instance_id} still running; stage 0: {activities}"
            ) from error

    def succeeded(self, stages: list[dict[str, Any]], timeout: float = 20) -> str:
        instance_id = self.start(stages)
        done = self.ended(instance_id, timeout)
        assert "error" not in done, (done, self.stage_history(instance_id, 0))
        return instance_id

    def stage_history(
        self, instance_id: str, stage: int, *, started: bool = True
    ) -> list[dict[str, Any]]:
        """The stage's activities; with `started=False`, [] while the stage has not started yet
        (its row is recorded just before its first activity)."""
        response = httpx.get(
            f"{self.url}/instances/{instance_id}/stages/{stage}/history", timeout=10
        )
        if not started and response.status_code == 404:
            return []
        assert response.status_code == 200, response.text
        return response.json()["data"]  # type: ignore[no-any-return]


def send(
    source: dict[str, Any],
    destination: dict[str, Any],
    amount: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    stage: dict[str, Any] = {"source": source, "destination": destination, **extra}
    if amount is not None:
        stage["amount"] = {"amount": amount, "asset": ASSET}
    return {"send": stage}


def posting(
    source: str, destination: str, amount: int, asset: str = ASSET
) -> dict[str, Any]:
    return {
        "source": source,
        "destination": destination,
        "amount": amount,
        "asset": asset,
    }


def overdraft_script(
    source: str, destination: str, amount: int, asset: str = ASSET
) -> dict[str, str]:
    """The overdraft Numscript of docs/stages.md (two-space indentation, no trailing newline)."""
    return {
        "plain": f"send [{asset} {amount}] (\n  source = @{source} allowing unbounded overdraft\n"
        f"  destination = @{destination}\n)"
    }


def write(
    path: str, key: str | None, body: Any, status: int = 200, method: str = "POST"
) -> dict[str, Any]:
    """A recorded write, with the Idempotency-Key it carried."""
    return {
        "method": method,
        "path": path,
        "query": "",
        "idempotencyKey": key,
        "body": body,
        "status": status,
    }


def read(path: str, query: str = "") -> dict[str, Any]:
    return {
        "method": "GET",
        "path": path,
        "query": query,
        "idempotencyKey": None,
        "body": None,
        "status": 200,
    }


def holding_account(payment_id: str) -> str:
    return "payment:" + payment_id.replace("-", "_")
