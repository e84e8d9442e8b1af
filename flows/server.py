"""Composes the processes: which of API, worker, embedded Temporal run, on which database."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import re
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp
from temporalio.client import Client, TLSConfig
from temporalio.runtime import PrometheusConfig, TelemetryConfig
from temporalio.runtime import Runtime as TemporalRuntime
from temporalio.service import RPCError

from flows.api.app import create_app
from flows.api.audit import AuditMiddleware
from flows.api.keysets import ExternalIssuer, TrustedIssuers, discover
from flows.api.tokens import (
    AuthClient,
    IssuerKey,
    TokenIssuer,
    client_with_scopes,
    given_secret,
    load_clients,
    load_or_create_issuer_key,
    load_or_create_signing_key,
    signing_key_from_setting,
)
from flows.application import Application, build_application
from flows.composition import SCOPES, Edge, migrate_all, served_histories
from flows.datadir import DataDir, open_data_dir, prepare_data_dir
from flows.engine.client import Engine
from flows.engine.codec import EncryptionCodec, UndecryptablePayload, check_running_instances, data_converter, encryption_key
from flows.engine.devserver import EmbeddedTemporal, TemporalNotFound, TemporalStartError, read_embedded_address
from flows.engine.reconcile import end_lost_instances, keep_reconciled
from flows.engine.search_attributes import InstanceAttributes, instance_attributes
from flows.engine.worker import build_worker
from flows.errors import ConfigurationError, StartupError
from flows.observability.http import RequestMetrics
from flows.observability.logs import configure_logging
from flows.observability.metrics import EngineMetrics, free_loopback_address, metrics_endpoint
from flows.observability.tracing import Tracing, start_tracing
from flows.outages import dependency_down, outage_reason
from flows.sandbox.app import create_sandbox_app
from flows.sandbox.events import in_background
from flows.sandbox.scopes import SERVICES as SANDBOX_SERVICES
from flows.settings import Settings, parse_listen
from flows.stack.client import STACK_SCOPES, Credentials, StackClient
from flows.storage.database import CORE_MIGRATIONS, Database, Migrations, sqlalchemy_url
from flows.storage.repository import Repository
from flows.triggers.pipeline import Pipeline

logger = logging.getLogger("flows")

SIGNING_KEY = "auth-signing-key"
ISSUER_KEY = "auth-issuer-key"


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


@dataclass
class Runtime:
    settings: Settings
    database: Database
    repository: Repository
    client: Client
    engine: Engine
    data_dir: DataDir | None
    engine_metrics: EngineMetrics
    """Temporal's own metrics, served by its core on loopback, appended to /metrics."""
    tracing: Tracing | None


@dataclass(frozen=True)
class _Secrets:
    """What the settings' secrets say, read and checked before anything starts."""

    clients: list[AuthClient]
    """Of the built-in issuer (`--auth-clients` and its file); none: auth off."""
    signing_key: bytes | None
    """Given with `--auth-signing-key` (or its file); None: generated once and kept."""
    stack_credentials: Credentials | None
    """How the worker calls its stack: `--stack-client-*`, else a client allowed to move money."""


def _read_secrets(settings: Settings) -> _Secrets:
    with _configuration_errors():
        clients = load_clients(settings.auth_clients, settings.auth_clients_file, SCOPES)
        given_key = given_secret(settings.auth_signing_key, settings.auth_signing_key_file, "--auth-signing-key")
        signing_key = signing_key_from_setting(given_key) if given_key else None
    return _Secrets(clients, signing_key, _stack_credentials(settings, clients))


@contextlib.asynccontextmanager
async def _database(
    settings: Settings, data_dir: DataDir | None, migrate: Callable[[Database], Awaitable[None]]
) -> AsyncIterator[Database]:
    """The database, reachable and migrated by `migrate`; out of reach, a `StartupError`."""
    sqlite_path = data_dir.database_path if data_dir and not settings.postgres_uri else None
    database = Database(sqlalchemy_url(settings.postgres_uri, sqlite_path))
    try:
        try:
            await migrate(database)
        except Exception as error:
            # Out of reach (refused, no such database, bad password, a file that cannot be opened)
            # is the user's to fix; a failing migration is a bug, and keeps its traceback.
            if not dependency_down(error):
                raise
            raise StartupError(f"cannot open {_database_named(settings, sqlite_path)}: {outage_reason(error)}") from error
        yield database
    finally:
        await database.close()


def _database_named(settings: Settings, sqlite_path: Path | None) -> str:
    if not settings.postgres_uri:
        return f"the database {sqlite_path}"
    # Never the URI itself: it may hold a password.
    parts = urlsplit(settings.postgres_uri)
    return f"PostgreSQL at {parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path} (--postgres-uri)"


def _temporal_runtime() -> tuple[TemporalRuntime, EngineMetrics]:
    """Temporal's core runtime for this process, serving its worker and client metrics on a
    loopback port that only `/metrics` reads."""
    address = free_loopback_address()
    runtime = TemporalRuntime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address, counters_total_suffix=True)))
    return runtime, EngineMetrics(address)


async def connect_temporal(
    settings: Settings,
    address: str,
    runtime: TemporalRuntime | None = None,
    tracing: Tracing | None = None,
    codec: EncryptionCodec | None = None,
) -> Client:
    tls: TLSConfig | bool = False
    if settings.temporal_ssl_client_cert and settings.temporal_ssl_client_key:
        tls = TLSConfig(
            client_cert=settings.temporal_ssl_client_cert.encode(),
            client_private_key=settings.temporal_ssl_client_key.encode(),
        )
    try:
        return await Client.connect(
            address,
            namespace=settings.temporal_namespace,
            data_converter=data_converter(codec),
            tls=tls,
            runtime=runtime,
            interceptors=[tracing.temporal_interceptor()] if tracing else [],
        )
    except RuntimeError as error:
        # The SDK says an unreachable or malformed address this way, with the Rust error's debug form.
        if not str(error).startswith("Failed client connect"):
            raise
        said = re.findall(r'(?:message|error): "([^"]+)"', str(error))
        reason = said[-1] if said else str(error)
        raise StartupError(f"cannot reach Temporal at {address}: {reason}") from error


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
            raise StartupError(f"no --temporal-address, and no embedded Temporal of `flows serve` in {data_dir.path}")
        yield address
        return
    server = EmbeddedTemporal(data_dir)
    try:
        address = await server.start()
    except (TemporalNotFound, TemporalStartError) as error:
        raise StartupError(f"the embedded Temporal did not start: {error}") from error
    supervising = asyncio.create_task(server.supervise())
    try:
        yield address
    finally:
        supervising.cancel()
        await asyncio.gather(supervising, return_exceptions=True)
        await server.stop()


def _private_from_now() -> None:
    # What this process and its embedded Temporal create from now on (databases and their
    # -wal/-shm files, logs, keys) is private from the start, like what was tightened.
    os.umask(0o077)


def _data_dir_of_a_serve(settings: Settings) -> DataDir:
    """The data dir of the `flows serve` a worker runs beside; with SQLite, its database must be there."""
    data_dir = DataDir.unlocked(settings.data_dir)
    if not settings.postgres_uri and not data_dir.database_path.is_file():
        raise StartupError(
            f"no Flows database in {data_dir.path}: `flows worker` uses the one of a `flows serve` on "
            "the same --data-dir (start it first), or the database of --postgres-uri"
        )
    return data_dir


def _encryption_codec(settings: Settings) -> EncryptionCodec | None:
    """The payload codec of `--temporal-encryption-enabled`, its key read and checked."""
    if not settings.temporal_encryption_enabled:
        return None
    with _configuration_errors():
        text = given_secret(settings.temporal_encryption_key, settings.temporal_encryption_key_file, "--temporal-encryption-key")
        return EncryptionCodec(encryption_key(text or ""))


async def _check_encryption(client: Client, repository: Repository, codec: EncryptionCodec | None) -> None:
    """A key that cannot read what running instances were started with refuses to start."""
    try:
        await check_running_instances(client, await repository.running_instance_ids(), codec)
    except UndecryptablePayload as error:
        raise StartupError(str(error)) from None
    if codec is not None:
        logger.info("Temporal payloads encrypted (AES-GCM, key %s)", codec.key_id)


async def _search_attributes(client: Client, settings: Settings, embedded: bool) -> InstanceAttributes:
    """The embedded Temporal always gets the search attributes; another with `--temporal-init-search-attributes`."""
    try:
        return await instance_attributes(client, settings.stack, init=embedded or settings.temporal_init_search_attributes)
    except (RPCError, TimeoutError) as error:
        reason = error.message if isinstance(error, RPCError) else "not listed in time"
        raise StartupError(f"cannot register Temporal's search attributes (--temporal-init-search-attributes): {reason}") from error


@contextlib.asynccontextmanager
async def runtime(settings: Settings, *, owns_data_dir: bool, histories: Sequence[Migrations]) -> AsyncIterator[Runtime]:
    """Database migrated to the head of `histories`, Temporal reachable: what `serve` and
    `worker` share."""
    codec = _encryption_codec(settings)
    data_dir = None
    if not owns_data_dir:
        data_dir = _data_dir_of_a_serve(settings)
    elif not settings.postgres_uri or not settings.temporal_address:
        data_dir = open_data_dir(settings.data_dir)
        _private_from_now()
    tracing = start_tracing(settings)
    temporal_runtime, engine_metrics = _temporal_runtime()
    try:
        async with _database(settings, data_dir, lambda database: database.migrate_apart(histories)) as database:
            async with _temporal_address(settings, data_dir, embed=owns_data_dir) as address:
                client = await connect_temporal(settings, address, temporal_runtime, tracing, codec)
                repository = Repository(database)
                await _check_encryption(client, repository, codec)
                embedded = owns_data_dir and not settings.temporal_address
                attributes = await _search_attributes(client, settings, embedded)
                engine = Engine(client, settings.temporal_task_queue, attributes)
                yield Runtime(settings, database, repository, client, engine, data_dir, engine_metrics, tracing)
    finally:
        await engine_metrics.close()
        if tracing is not None:
            tracing.shutdown()
        if data_dir is not None:
            data_dir.close()


@contextlib.contextmanager
def _configuration_errors() -> Iterator[None]:
    """A mistake in the auth configuration (flags, secret files) refuses to start, in one line."""
    try:
        yield
    except ValueError as error:
        raise ConfigurationError(str(error)) from error


async def _signing_key(run: Runtime, given: bytes | None) -> bytes:
    if given:
        return given
    if run.settings.postgres_uri or run.data_dir is None:
        # Every process of a deployment must sign and check with the same key.
        return await run.repository.secret(SIGNING_KEY, os.urandom(32))
    with _configuration_errors():
        return load_or_create_signing_key(run.data_dir.signing_key_path)


async def _issuer_key(run: Runtime) -> IssuerKey:
    """The built-in issuer's key pair, kept where the signing key is."""
    if run.settings.postgres_uri or run.data_dir is None:
        return IssuerKey.from_pem(await run.repository.secret(ISSUER_KEY, IssuerKey.generate_pem()), "the database's issuer key")
    with _configuration_errors():
        return load_or_create_issuer_key(run.data_dir.issuer_key_path)


async def _issuer(run: Runtime, secrets: _Secrets) -> TokenIssuer:
    settings = run.settings
    issuer = TokenIssuer(
        await _signing_key(run, secrets.signing_key),
        secrets.clients,
        issuer=settings.auth_base_url or "flows",
        scopes=SCOPES,
        key_pair=await _issuer_key(run),
        external_issuer=settings.auth_issuer if settings.auth_enabled else None,
    )
    if issuer.enabled:
        logger.info("auth on: %d client(s) of the built-in OAuth2 issuer", len(secrets.clients))
    return issuer


async def _external_issuer(settings: Settings) -> ExternalIssuer | None:
    """With `--auth-enabled`, the external issuer, its key set read: before anything starts, so
    that an issuer out of reach refuses the start at once (after its retries)."""
    if not (settings.auth_enabled and settings.auth_issuer):
        return None
    return await discover(
        settings.auth_issuer,
        httpx.AsyncClient(),  # reads the key set for as long as the process lives
        settings.auth_read_key_set_max_retries,
        audience=settings.auth_audience,
        check_scopes=settings.auth_check_scopes,
    )


def _trusted_issuers(issuer: TokenIssuer, external: ExternalIssuer | None) -> TrustedIssuers:
    trusted = TrustedIssuers(issuer, external)
    if not trusted.enabled:
        logger.warning("auth is OFF: every API call is allowed (set --auth-clients to protect the API)")
    return trusted


def _stack_credentials(settings: Settings, clients: list[AuthClient]) -> Credentials | None:
    """`--stack-client-id` and its secret for `--stack-url`; for the sandbox, one of `clients`."""
    if not settings.stack_url:
        return _sandbox_credentials(clients)
    if not settings.stack_client_id:
        return None
    with _configuration_errors():
        secret = given_secret(settings.stack_client_secret, settings.stack_client_secret_file, "--stack-client-secret")
    return Credentials(settings.stack_client_id, secret or "")


def _stack_client(run: Runtime, sandbox_url: str | None, secrets: _Secrets) -> StackClient:
    """The stack the worker moves money on: `--stack-url`, else the sandbox of `flows serve`."""
    url = run.settings.stack_url or sandbox_url
    if url is None:
        raise StartupError("no --stack-url, and no sandbox of a `flows serve` to use instead")
    instrument = run.tracing.instrument_http_client if run.tracing else None
    return StackClient(url, secrets.stack_credentials, instrument=instrument)


def _sandbox_credentials(clients: list[AuthClient]) -> Credentials | None:
    """With auth on, the worker calls the sandbox as the first client allowed to move money."""
    if not clients:
        return None
    client = client_with_scopes(clients, STACK_SCOPES.split())
    if client is None:
        needed = " ".join(scope for scope in STACK_SCOPES.split() if scope != "openid")
        raise ConfigurationError(
            f"the worker moves money on the sandbox as a client of --auth-clients with the scopes "
            f"{needed}, and no client has them all: add one (without a scope list, a client has all)"
        )
    return Credentials(client.client_id, client.secret)


def _own_url(settings: Settings) -> str:
    host, port = settings.listen_address()
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def _http_config(app: ASGIApp, address: tuple[str, int], *, access_log: bool = False) -> uvicorn.Config:
    host, port = address
    # log_config None: logging is Flows' (flows.observability.logs), uvicorn's lines included.
    return uvicorn.Config(app, host=host, port=port, log_config=None, access_log=access_log, lifespan="off")


def _metrics_server(run: Runtime) -> uvicorn.Server | None:
    """`--metrics-listen`: `/metrics` alone, without auth, for a private scrape port."""
    if run.settings.metrics_listen is None:
        return None
    app = Starlette(routes=[Route("/metrics", metrics_endpoint, methods=["GET"])])
    app.state.engine_metrics = run.engine_metrics
    server = _ApiServer(_http_config(app, parse_listen(run.settings.metrics_listen)))
    return server


@contextlib.asynccontextmanager
async def _serving_metrics(run: Runtime) -> AsyncIterator[None]:
    """`--metrics-listen`'s server, for as long as the block runs."""
    server = _metrics_server(run)
    if server is None:
        yield
        return
    serving = asyncio.create_task(server.serve())
    try:
        yield
    finally:
        server.should_exit = True
        await serving


def _mount_console(
    edge: Edge, application: Application, issuer: TokenIssuer, verifier: TrustedIssuers, service: str, *, with_sandbox: bool
) -> None:
    """The web console (`--console`) on the console's paths of `edge`; it reads the sandbox
    through `edge`'s sandbox routes, in process, as the viewer."""
    # Imported here: the console's modules (Jinja2 and its templates) cost memory in every
    # `serve`, and only `--console` uses them.
    from flows.console.app import WithConsole, console_root, create_console
    from flows.console.sandbox import SandboxReader

    reader = None
    if with_sandbox:
        # Lives as long as the process; an in-process transport holds no connection.
        reader = SandboxReader(httpx.AsyncClient(transport=httpx.ASGITransport(app=edge), base_url="http://sandbox"))
    edge.mount_console(WithConsole(edge.api, create_console(application, issuer, verifier, service=service, sandbox=reader)), console_root)


def edge_app(
    api: ASGIApp,
    application: Application,
    issuer: TokenIssuer,
    verifier: TrustedIssuers,
    service: str,
    *,
    sandbox: ASGIApp | None,
    console: bool,
) -> ASGIApp:
    """What `flows serve` answers on its port: the API, the sandbox beside it (if any), the
    console (`--console`), all of it counted by the request metrics."""
    edge = Edge(api, verifier, sandbox=sandbox)
    if console:
        # Mounted after: the console reads the sandbox through this very edge.
        _mount_console(edge, application, issuer, verifier, service, with_sandbox=sandbox is not None)
    return RequestMetrics(edge, prefixes=SANDBOX_SERVICES if sandbox is not None else ())


def _configure_logging(settings: Settings) -> None:
    configure_logging(debug=settings.debug, debug_libraries=settings.debug_libraries, json_lines=settings.json_logs())


async def serve(settings: Settings) -> None:
    _configure_logging(settings)
    secrets = _read_secrets(settings)
    external = await _external_issuer(settings)
    # Without --stack-url, the sandbox is mounted beside the API, on tables of its own.
    histories = served_histories(sandbox=not settings.stack_url)
    async with runtime(settings, owns_data_dir=True, histories=histories) as run:
        issuer = await _issuer(run, secrets)
        verifier = _trusted_issuers(issuer, external)
        # Without --stack-url, the worker and link() call the sandbox mounted below.
        sandbox_url = None if settings.stack_url else _own_url(settings)
        stack = _stack_client(run, sandbox_url, secrets)
        pipeline = Pipeline(settings)
        application = build_application(
            run.repository,
            run.engine,
            version=flows_version(),
            wait_timeout=settings.wait_timeout,
            stack=stack,
            on_occurrence=pipeline.occurrence_recorded,
        )
        events = application.events.handler
        app: ASGIApp = create_app(
            application, issuer, verifier=verifier, auth_service=settings.auth_service, engine_metrics=run.engine_metrics
        )
        release_holds: Callable[[], None] = lambda: None  # noqa: E731
        sandbox = None
        if sandbox_url is not None:
            # The sandbox's events go to the triggers in process (at-most-once across a crash).
            sandbox = create_sandbox_app(
                run.database,
                events=in_background(events.sink("sandbox")),
                stack_url=sandbox_url,
                test_hooks=settings.sandbox_test_hooks,
            )
            # A request parked on a test hold would otherwise keep the API from shutting down.
            release_holds = sandbox.state.sandbox.hooks.release_all
            if run.data_dir is not None:
                run.data_dir.sandbox_url_path.write_text(sandbox_url)
        app = edge_app(app, application, issuer, verifier, settings.auth_service, sandbox=sandbox, console=settings.console)
        if pipeline.audit is not None:
            app = AuditMiddleware(app, pipeline.audit, stack=settings.stack, handled_secret=settings.audit_handled_header_secret)
        if run.tracing is not None:
            app = run.tracing.asgi(app)
        server = _ApiServer(_http_config(app, settings.listen_address(), access_log=settings.debug))
        await pipeline.start(events, consume=settings.worker)
        worker = None
        if settings.worker:
            worker = build_worker(run.client, settings.temporal_task_queue, run.repository, stack, pipeline.publisher)
        worker_task = asyncio.create_task(worker.run()) if worker else None
        _stop_on_signals(server, release_holds)
        # Everything allocated so far lives as long as the process: keep the collector off it.
        gc.freeze()
        reconciling = [
            asyncio.create_task(end_lost_instances(run.repository, run.engine)),
            asyncio.create_task(keep_reconciled(run.repository, run.engine)),
        ]
        try:
            async with _serving_metrics(run):
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
    _configure_logging(settings)
    secrets = _read_secrets(settings)
    async with runtime(settings, owns_data_dir=False, histories=[CORE_MIGRATIONS]) as run:
        sandbox_url = None
        if run.data_dir is not None and run.data_dir.sandbox_url_path.exists():
            sandbox_url = run.data_dir.sandbox_url_path.read_text().strip()
        stack = _stack_client(run, sandbox_url, secrets)
        pipeline = Pipeline(settings)
        application = build_application(
            run.repository, run.engine, version=flows_version(), stack=stack, on_occurrence=pipeline.occurrence_recorded
        )
        await pipeline.start(application.events.handler)
        worker = build_worker(run.client, settings.temporal_task_queue, run.repository, stack, pipeline.publisher)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        reconciling = asyncio.create_task(keep_reconciled(run.repository, run.engine))
        async with worker, _serving_metrics(run):
            logger.info("worker polling task queue '%s'", settings.temporal_task_queue)
            await stop.wait()
        reconciling.cancel()
        await pipeline.close()
        await stack.close()


async def migrate(settings: Settings) -> None:
    data_dir = None
    if not settings.postgres_uri:
        data_dir = prepare_data_dir(settings.data_dir)
        _private_from_now()
    async with _database(settings, data_dir, migrate_all):
        pass
