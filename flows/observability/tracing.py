"""OpenTelemetry traces, off unless `--otel-traces` (docs/operations.md).

On, one trace follows a request through everything it causes: the HTTP request (ASGI
instrumentation), the Temporal workflow it starts and its activities (Temporal's tracing
interceptor, on the client and so on the worker), and the activities' calls to the stack
(httpx instrumentation of the stack client), whose requests carry `traceparent`.

OpenTelemetry is imported here only when traces are on: off, it costs no import and no memory.
Spans go out in batches from a background thread, never from the event loop, whatever
`--otel-traces-batch` says (a collector out of reach must not stall requests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flows.errors import StartupError
from flows.observability.http import with_route
from flows.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter


class Tracing:
    """The process's tracer provider and the instrumentation of its parts."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider

    def asgi(self, app: ASGIApp) -> ASGIApp:
        """One span per request (not per body chunk), named by its route template; health checks,
        polled by probes, are left out."""
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        middleware: ASGIApp = OpenTelemetryMiddleware(
            _SpanNamedByRoute(app),
            excluded_urls="/_healthcheck",
            default_span_details=_method_only,
            tracer_provider=self.provider,
            exclude_spans=["receive", "send"],
        )
        return middleware

    def instrument_http_client(self, client: httpx.AsyncClient) -> None:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=self.provider)

    def temporal_interceptor(self) -> Any:
        """For the Temporal client; workers made from the client trace through it too."""
        from temporalio.contrib.opentelemetry import TracingInterceptor

        return TracingInterceptor(self.provider.get_tracer("flows.engine"))

    def shutdown(self) -> None:
        """Export what is still queued (bounded), then stop."""
        self.provider.shutdown()


class _SpanNamedByRoute:
    """Names the request's span by its route template (`POST /workflows/{workflow_id}/instances`),
    never the raw path: the instrumentation, outside the router, knows only the path. Done when
    the answer starts, since the span ends with the answer's last byte."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from opentelemetry import trace

        route = with_route(scope)
        span = trace.get_current_span()

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start" and route.template is not None:
                span.update_name(f"{scope['method']} {route.template}")
                span.set_attribute("http.route", route.template)
            await send(message)

        await self.app(scope, receive, named)


def _method_only(scope: Scope) -> tuple[str, dict[str, Any]]:
    """The span's name until the route is known: the method (a raw path would be unbounded)."""
    return str(scope.get("method") or "HTTP"), {}


def start_tracing(settings: Settings) -> Tracing | None:
    """The tracing `settings` ask for; None when traces are off."""
    if not settings.otel_traces:
        return None
    from opentelemetry import propagate, trace
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    attributes: dict[str, Any] = dict(attribute.split("=", 1) for attribute in settings.otel_resource_attributes)
    attributes["service.name"] = settings.otel_service_name
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(_exporter(settings)))
    # Global too: Temporal's interceptor makes the workflow's spans with the global provider.
    trace.set_tracer_provider(provider)
    propagate.set_global_textmap(CompositePropagator([TraceContextTextMapPropagator()]))
    return Tracing(provider)


def _exporter(settings: Settings) -> SpanExporter:
    if settings.otel_traces_exporter == "stdout":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    endpoint = settings.otel_traces_exporter_otlp_endpoint
    insecure = settings.otel_traces_exporter_otlp_insecure
    if settings.otel_traces_exporter_otlp_mode == "http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        return HttpExporter(endpoint=otlp_http_url(endpoint, insecure) if endpoint else None)
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
    except ImportError:
        # An extra: with grpcio installed, Temporal's SDK imports it too, 9 MB in every process.
        raise StartupError(
            "--otel-traces-exporter-otlp-mode grpc needs the gRPC exporter: pip install 'flows[otlp-grpc]', "
            "or use --otel-traces-exporter-otlp-mode http"
        ) from None
    return GrpcExporter(endpoint=endpoint, insecure=insecure)


def otlp_http_url(endpoint: str, insecure: bool) -> str:
    """The reference's `host:port` (its scheme from `--otel-traces-exporter-otlp-insecure`), or a
    URL; without a path, OTLP's `/v1/traces`."""
    if "://" not in endpoint:
        endpoint = f"{'http' if insecure else 'https'}://{endpoint}"
    url = httpx.URL(endpoint)
    return str(url.copy_with(path="/v1/traces")) if url.path in ("", "/") else endpoint
