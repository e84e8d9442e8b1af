"""Composes the processes: which of API, worker, embedded Temporal run, on which database."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

import uvicorn
from starlette.types import ASGIApp
from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter

from flows.api.app import create_app
from flows.api.services import Services
from flows.api.tokens import (
    AuthClient,
    TokenIssuer,
    client_with_scopes,
    given_secret,
    load_clients,
    load_or_create_signing_key,
    signing_key_from_setting,
)
from flows.composition import WithSandbox
from flows.datadir import DataDir, DataDirNotOurs, open_data_dir
from flows.engine.client import Engine
from flows.engine.devserver import EmbeddedTemporal, read_embedded_address
from flows.engine.reconcile import end_lost_instances, keep_reconciled
from flows.engine.worker import build_worker
from flows.sandbox.app import create_sandbox_app
from flows.sandbox.events import in_background
from flows.settings import Settings
from flows.stack.client import STACK_SCOPES, Credentials, StackClient
from flows.storage.database import Database, sqlalchemy_url
from flows.storage.repository import Repository
from flows.triggers.listener import EventHandler
from flows.triggers.pipeline import start_pipeline

logger = logging.getLogger("flows")

SIGNING_KEY = "auth-signing-key"


def flows_version() -> str:
    try:
        return version("flows")
    except PackageNotFoundError:
        return "develop"


class _ApiServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises the signal once the API has stopped, which would end the process
        # before the worker drains and the embedded Temporal stops: `serve` handles signals.
        yield


def _stop_on_signals(server: uvicorn.Server, on_stop: Callable[[], None]) -> None:
    def stop() -> None:
        if server.should_exit:
            server.force_exit = True
        server.should_exit = True
        on_stop()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)


class StartupError(Exception):
    """Configuration or environment that keeps the service from starting."""


@dataclass
class Runtime:
    settings: Settings
    database: Database
    repository: Repository
    client: Client
    engine: Engine
    data_dir: DataDir | None


def _check(settings: Settings) -> None:
    problems = settings.unsupported()
    if problems:
        raise StartupError("; ".join(problems))


@contextlib.asynccontextmanager
async def _database(settings: Settings, data_dir: DataDir | None) -> AsyncIterator[Database]:
    sqlite_path = data_dir.database_path if data_dir and not settings.postgres_uri else None
    database = Database(sqlalchemy_url(settings.postgres_uri, sqlite_path))
    try:
        yield database
    finally:
        await database.close()


async def connect_temporal(settings: Settings, address: str) -> Client:
    tls: TLSConfig | bool = False
    if settings.temporal_ssl_client_cert and settings.temporal_ssl_client_key:
        tls = TLSConfig(
            client_cert=settings.temporal_ssl_client_cert.encode(),
            client_private_key=settings.temporal_ssl_client_key.encode(),
        )
    return await Client.connect(
        address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        tls=tls,
    )


@contextlib.asynccontextmanager
async def _temporal_address(settings: Settings, data_dir: DataDir | None, embed: bool) -> AsyncIterator[str]:
    if settings.temporal_address:
        yield settings.temporal_address
        return
    if data_dir is None:
        raise StartupError("no --temporal-address and no data dir for an embedded Temporal")
    if not embed:
        address = read_embedded_address(data_dir.path)
        if address is None:
            raise StartupError(
                f"no --temporal-address, and no embedded Temporal of `flows serve` in {data_dir.path}"
            )
        yield address
        return
    server = EmbeddedTemporal(data_dir)
    address = await server.start()
    supervising = asyncio.create_task(server.supervise())
    try:
        yield address
    finally:
        supervising.cancel()
        await asyncio.gather(supervising, return_exceptions=True)
        await server.stop()


def _open_data_dir(settings: Settings) -> DataDir:
    try:
        data_dir = open_data_dir(settings.data_dir)
    except DataDirNotOurs as error:
        raise StartupError(str(error)) from None
    # What this process and its embedded Temporal create from now on (databases and their
    # -wal/-shm files, logs, keys) is private from the start, like what was tightened.
    os.umask(0o077)
    return data_dir


@contextlib.asynccontextmanager
async def runtime(settings: Settings, *, owns_data_dir: bool) -> AsyncIterator[Runtime]:
    """Database migrated, Temporal reachable: what `serve` and `worker` share."""
    _check(settings)
    needs_dir = owns_data_dir and (not settings.postgres_uri or not settings.temporal_address)
    data_dir = _open_data_dir(settings) if needs_dir else None
    if data_dir is None and not owns_data_dir:
        data_dir = DataDir.unlocked(settings.data_dir)
    try:
        async with _database(settings, data_dir) as database:
            await database.migrate()
            async with _temporal_address(settings, data_dir, embed=owns_data_dir) as address:
                client = await connect_temporal(settings, address)
                repository = Repository(database)
                engine = Engine(client, settings.temporal_task_queue)
                yield Runtime(settings, database, repository, client, engine, data_dir)
    finally:
        if data_dir is not None:
            data_dir.close()


@contextlib.contextmanager
def _configuration_errors() -> Iterator[None]:
    """A mistake in the auth configuration (flags, secret files) refuses to start, in one line."""
    try:
        yield
    except ValueError as error:
        raise StartupError(str(error)) from error


def _auth_clients(settings: Settings) -> list[AuthClient]:
    with _configuration_errors():
        return load_clients(settings.auth_clients, settings.auth_clients_file)


async def _signing_key(run: Runtime) -> bytes:
    with _configuration_errors():
        given = given_secret(
            run.settings.auth_signing_key, run.settings.auth_signing_key_file, "--auth-signing-key"
        )
        if given:
            return signing_key_from_setting(given)
    if run.settings.postgres_uri or run.data_dir is None:
        # Every process of a deployment must sign and check with the same key.
        return await run.repository.secret(SIGNING_KEY, os.urandom(32))
    with _configuration_errors():
        return load_or_create_signing_key(run.data_dir.signing_key_path)


async def _issuer(run: Runtime, clients: list[AuthClient]) -> TokenIssuer:
    issuer = TokenIssuer(await _signing_key(run), clients, issuer="flows")
    if issuer.enabled:
        logger.info("auth on: %d client(s) of the built-in OAuth2 issuer", len(clients))
    else:
        logger.warning("auth is OFF: every API call is allowed (set --auth-clients to protect the API)")
    return issuer


def _stack_client(settings: Settings, sandbox_url: str | None, clients: list[AuthClient]) -> StackClient:
    """The stack the worker moves money on: `--stack-url`, else the sandbox of `flows serve`."""
    if settings.stack_url:
        credentials = None
        if settings.stack_client_id:
            with _configuration_errors():
                secret = given_secret(
                    settings.stack_client_secret, settings.stack_client_secret_file, "--stack-client-secret"
                )
            credentials = Credentials(settings.stack_client_id, secret or "")
        return StackClient(settings.stack_url, credentials)
    if sandbox_url is None:
        raise StartupError("no --stack-url, and no sandbox of a `flows serve` to use instead")
    return StackClient(sandbox_url, _sandbox_credentials(clients))


def _sandbox_credentials(clients: list[AuthClient]) -> Credentials | None:
    """With auth on, the worker calls the sandbox as the first client allowed to move money."""
    if not clients:
        return None
    client = client_with_scopes(clients, STACK_SCOPES.split())
    if client is None:
        needed = " ".join(scope for scope in STACK_SCOPES.split() if scope != "openid")
        raise StartupError(
            f"the worker moves money on the sandbox as a client of --auth-clients with the scopes "
            f"{needed}, and no client has them all: add one (without a scope list, a client has all)"
        )
    return Credentials(client.client_id, client.secret)


def _own_url(settings: Settings) -> str:
    host, port = settings.listen_address()
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


async def serve(settings: Settings) -> None:
    clients = _auth_clients(settings)
    async with runtime(settings, owns_data_dir=True) as run:
        issuer = await _issuer(run, clients)
        events = EventHandler(run.repository, run.engine)
        services = Services(
            repository=run.repository,
            engine=run.engine,
            version=flows_version(),
            wait_timeout=settings.wait_timeout,
            events=events,
        )
        app: ASGIApp = create_app(services, issuer)
        sandbox_url = None
        release_holds: Callable[[], None] = lambda: None  # noqa: E731
        if not settings.stack_url:
            # The sandbox's events go to the triggers in process (at-most-once across a crash).
            sandbox = create_sandbox_app(
                run.database,
                events=in_background(events.sink("sandbox")),
                stack_url=_own_url(settings),
                test_hooks=settings.sandbox_test_hooks,
            )
            # A request parked on a test hold would otherwise keep the API from shutting down.
            release_holds = sandbox.state.sandbox.hooks.release_all
            app = WithSandbox(app, sandbox, issuer)
            sandbox_url = _own_url(settings)
            if run.data_dir is not None:
                run.data_dir.sandbox_url_path.write_text(sandbox_url)
        stack = _stack_client(settings, sandbox_url, clients)
        events.stack = stack  # link() in trigger expressions (the sandbox exists only from here)
        host, port = settings.listen_address()
        server = _ApiServer(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level="debug" if settings.debug else "info",
                access_log=settings.debug,
                lifespan="off",
            )
        )
        pipeline = await start_pipeline(settings, events, consume=settings.worker)
        worker = None
        if settings.worker:
            worker = build_worker(
                run.client, settings.temporal_task_queue, run.repository, stack, pipeline.publisher
            )
        worker_task = asyncio.create_task(worker.run()) if worker else None
        _stop_on_signals(server, release_holds)
        # Everything allocated so far lives as long as the process: keep the collector off it.
        gc.freeze()
        reconciling = [
            asyncio.create_task(end_lost_instances(run.repository, run.engine)),
            asyncio.create_task(keep_reconciled(run.repository, run.engine)),
        ]
        try:
            await server.serve()
        finally:
            for task in reconciling:
                task.cancel()
            # No new events in while the worker drains; lifecycle events still go out.
            await pipeline.stop_consuming()
            if worker is not None and worker_task is not None:
                await worker.shutdown()
                with contextlib.suppress(Exception):
                    await worker_task
            await pipeline.close()
            await stack.close()


async def work(settings: Settings) -> None:
    clients = _auth_clients(settings)
    async with runtime(settings, owns_data_dir=False) as run:
        sandbox_url = None
        if run.data_dir is not None and run.data_dir.sandbox_url_path.exists():
            sandbox_url = run.data_dir.sandbox_url_path.read_text().strip()
        stack = _stack_client(settings, sandbox_url, clients)
        pipeline = await start_pipeline(settings, EventHandler(run.repository, run.engine, stack))
        worker = build_worker(
            run.client, settings.temporal_task_queue, run.repository, stack, pipeline.publisher
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        reconciling = asyncio.create_task(keep_reconciled(run.repository, run.engine))
        async with worker:
            logger.info("worker polling task queue '%s'", settings.temporal_task_queue)
            await stop.wait()
        reconciling.cancel()
        await pipeline.close()
        await stack.close()


async def migrate(settings: Settings) -> None:
    _check(settings)
    data_dir = None if settings.postgres_uri else DataDir.unlocked(settings.data_dir)
    async with _database(settings, data_dir) as database:
        await database.migrate()
