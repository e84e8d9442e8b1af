"""Configuration, in one place: each field is a flag of the `flows` command (`postgres_uri` is
`--postgres-uri`) and an environment variable (`POSTGRES_URI`), with its help, type, default and
the commands that take it; flows/cli.py builds the flags from these fields. The names are the
reference implementation's where it has them.

Values are parsed and checked here, once, before anything starts: `load_settings` turns every
mistake into one `ConfigurationError` line naming the flag."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from flows.datadir import default_data_dir
from flows.errors import ConfigurationError

SERVE, WORKER, MIGRATE = "serve", "worker", "migrate"
COMMANDS = (SERVE, WORKER, MIGRATE)
"""The commands that take flags, in the order `--help` lists them."""

_DATABASE = (SERVE, WORKER, MIGRATE)
_ENGINE = (SERVE, WORKER)
_API = (SERVE,)

POSTGRES_SCHEMES = ("postgres", "postgresql", "postgresql+psycopg")


def _flag(help: str, commands: tuple[str, ...], *, secret: bool = False, **field: Any) -> Any:
    """A field that is a flag of `commands`; a `secret` one's value is never quoted in errors."""
    return Field(description=help, json_schema_extra={"commands": list(commands), "secret": secret}, **field)


def _split(value: object) -> object:
    if isinstance(value, str):
        return [item for item in value.replace(",", " ").split() if item]
    return value


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port`; the reference's `:8080` form means every interface."""
    host, _, port = value.rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError("must be host:port with a port from 0 to 65535, e.g. 127.0.0.1:8080 or :8080")
    return (host.strip("[]") or "0.0.0.0"), int(port)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    listen: str = _flag("host:port to listen on (':8080' = all interfaces)", _API, default="127.0.0.1:8080")
    worker: bool = _flag("also run the worker in this process", _API, default=True)
    console: bool = _flag("serve the web console at / and /api/orchestration/ (--console=false for API-only nodes)", _API, default=True)
    auth_clients: str | None = _flag(
        "id:secret[:scope+scope…][,…]: clients of the built-in OAuth2 issuer; after the secret, the"
        " '+'-separated scopes the client may have (default: all), e.g. reader:s3cret:orchestration:read;"
        " no ':' or ',' in ids and secrets; none = auth off",
        _API,
        secret=True,
        default=None,
    )
    auth_clients_file: Path | None = _flag(
        "file of --auth-clients entries, one per line, '#' comments (keeps secrets out of `ps`)",
        _API,
        default=None,
    )
    auth_signing_key: str | None = _flag(
        "key (≥ 32 bytes) signing the issued tokens (default: generated once, kept in the data dir or, with PostgreSQL, in the database)",
        _API,
        secret=True,
        default=None,
    )
    auth_signing_key_file: Path | None = _flag("file holding the --auth-signing-key", _API, default=None)
    auth_base_url: str | None = _flag(
        "public URL of the built-in issuer, where this service's /api/auth is reached, e.g. https://flows.example.com/api/auth:"
        " its tokens' iss, and where its OpenID configuration points (default: iss 'flows')",
        _API,
        default=None,
    )
    auth_enabled: bool = _flag(
        "accept the bearer JWTs of the external issuer --auth-issuer (checked against its key set)", _API, default=False
    )
    auth_issuer: str | None = _flag(
        "URL of the external issuer, e.g. https://<stack>/api/auth: its /.well-known/openid-configuration gives its key set;"
        " tokens' iss must be this URL",
        _API,
        default=None,
    )
    auth_read_key_set_max_retries: int = _flag(
        "retries of reading the issuer's key set at startup while it is out of reach, then refuse to start", _API, default=10, ge=0, le=1000
    )
    auth_check_scopes: bool = _flag(
        "tokens of --auth-issuer need <service>:read (reads) or <service>:write (writes), <service> = --auth-service", _API, default=False
    )
    auth_service: str = _flag("service name of the API's scopes", _API, default="orchestration", pattern=r"^[a-z][a-z0-9_-]{0,63}$")
    auth_audience: str | None = _flag("if set, tokens of --auth-issuer must name it in their aud", _API, default=None)
    audit_enabled: bool = _flag("publish an AUDIT event of every request to NATS (topic 'audit-events', mapped)", _API, default=False)
    audit_handled_header_secret: str | None = _flag(
        "a request whose X-Formance-Audit header holds this secret was audited already (default: any value)",
        _API,
        secret=True,
        default=None,
    )
    wait_timeout: float = _flag("seconds runWorkflow?wait=true waits at most", _API, default=4.0, gt=0, allow_inf_nan=False)
    sandbox_test_hooks: bool = _flag(
        "serve the sandbox's test hooks under /api/sandbox (request recording, holds parking writes): tests only",
        _API,
        default=False,
    )

    data_dir: Path = _flag("where the embedded state lives (SQLite, Temporal, signing key)", _DATABASE, default_factory=default_data_dir)
    postgres_uri: str | None = _flag(
        "PostgreSQL URI, e.g. postgres://user:pw@host/db?sslmode=disable (default: SQLite in the data dir)",
        _DATABASE,
        secret=True,
        default=None,
    )
    postgres_aws_enable_iam: bool = _flag("not supported; fails loudly", _DATABASE, default=False)

    temporal_address: str | None = _flag(
        "an existing Temporal frontend, host:port (default: an embedded dev server)", _ENGINE, default=None
    )
    temporal_namespace: str = _flag("Temporal namespace", _ENGINE, default="default")
    temporal_task_queue: str = _flag("Temporal task queue", _ENGINE, default="flows")
    temporal_ssl_client_cert: str | None = _flag("client certificate (PEM contents) for mTLS", _ENGINE, default=None)
    temporal_ssl_client_key: str | None = _flag("client key (PEM contents) for mTLS", _ENGINE, secret=True, default=None)
    temporal_encryption_enabled: bool = _flag(
        "encrypt what Flows stores in Temporal's history (AES-GCM) with --temporal-encryption-key", _ENGINE, default=False
    )
    temporal_encryption_key: str | None = _flag(
        "the AES key: 16, 24 or 32 bytes of text, e.g. `openssl rand -hex 16`; the same in every process",
        _ENGINE,
        secret=True,
        default=None,
    )
    temporal_encryption_key_file: Path | None = _flag(
        "file holding the --temporal-encryption-key (keeps it out of `ps`)", _ENGINE, default=None
    )
    temporal_init_search_attributes: bool = _flag(
        "register the search attributes Stack, OrchestrationWorkflowID, OrchestrationTriggerID at startup"
        " (the embedded Temporal always has them)",
        _ENGINE,
        default=False,
    )

    stack: str = _flag("stack name", _ENGINE, default="")
    stack_url: str | None = _flag("base URL of the Formance stack (default: the built-in sandbox)", _ENGINE, default=None)
    stack_client_id: str | None = _flag("OAuth2 client id for the stack", _ENGINE, default=None)
    stack_client_secret: str | None = _flag("OAuth2 client secret for the stack", _ENGINE, secret=True, default=None)
    stack_client_secret_file: Path | None = _flag("file holding the --stack-client-secret (keeps it out of `ps`)", _ENGINE, default=None)
    topics: Annotated[list[str], NoDecode] = _flag(
        "NATS JetStream subjects to consume, e.g. 'prod.ledger prod.payments' (comma or space separated)",
        _ENGINE,
        default=[],
    )
    nats_url: str | None = _flag(
        "NATS server URL: consume --topics, publish lifecycle events (e.g. nats://127.0.0.1:4222)",
        _ENGINE,
        default=None,
    )
    publisher_nats_url: str | None = _flag("the reference's name for --nats-url", _ENGINE, default=None)
    publisher_nats_enabled: bool = _flag("the reference's switch; accepted (a NATS URL alone enables NATS)", _ENGINE, default=False)
    publisher_topic_mapping: Annotated[list[str], NoDecode] = _flag(
        "from:to[,from:to…]: subject of the lifecycle events (topic 'orchestration'; default <stack>.orchestration)",
        _ENGINE,
        default=[],
    )
    debug: bool = _flag("debug logs of Flows and access logs (libraries stay at WARNING: see --debug-libraries)", _ENGINE, default=False)
    debug_libraries: bool = _flag(
        "also the debug logs of the libraries (SQLAlchemy, aiosqlite, httpx, Temporal's SDK, NATS): very verbose",
        _ENGINE,
        default=False,
    )
    log_format: Literal["text", "json"] = _flag("text (one line a person reads) or json (one object per line)", _ENGINE, default="text")
    json_formatting_logger: bool = _flag("the reference's switch for --log-format json", _ENGINE, default=False)
    metrics_listen: str | None = _flag(
        "host:port serving /metrics alone, without auth, for a private scrape port (`flows worker` has no other)",
        _ENGINE,
        default=None,
    )

    otel_traces: bool = _flag("export OpenTelemetry traces", _ENGINE, default=False)
    otel_traces_batch: bool = _flag(
        "the reference's switch; accepted (spans are always exported in batches, off the event loop)", _ENGINE, default=False
    )
    otel_traces_exporter: Literal["stdout", "otlp"] = _flag(
        "where traces go: stdout or otlp (Jaeger takes OTLP too)", _ENGINE, default="stdout"
    )
    otel_traces_exporter_otlp_mode: Literal["grpc", "http"] = _flag("OTLP over grpc or http (protobuf)", _ENGINE, default="grpc")
    otel_traces_exporter_otlp_endpoint: str | None = _flag(
        "OTLP collector, host:port or URL (default: the exporter's, localhost:4317 or :4318)", _ENGINE, default=None
    )
    otel_traces_exporter_otlp_insecure: bool = _flag("OTLP without TLS", _ENGINE, default=False)
    otel_service_name: str = _flag("service.name of the traces", _ENGINE, default="flows")
    otel_resource_attributes: Annotated[list[str], NoDecode] = _flag(
        "key=value[,key=value…]: more resource attributes of the traces", _ENGINE, default=[]
    )

    @field_validator("topics", "publisher_topic_mapping", "otel_resource_attributes", mode="before")
    @classmethod
    def _topics(cls, value: object) -> object:
        return _split(value)

    @field_validator("listen", "metrics_listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value

    @field_validator("otel_resource_attributes")
    @classmethod
    def _resource_attributes(cls, value: list[str]) -> list[str]:
        for attribute in value:
            if not attribute.partition("=")[0] or "=" not in attribute:
                raise ValueError(f"{attribute[:100]!r} is not key=value")
        return value

    @field_validator("auth_issuer", "auth_base_url")
    @classmethod
    def _issuer_url(cls, value: str | None) -> str | None:
        if value and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname):
            raise ValueError("must be an http:// or https:// URL")
        return value or None

    @field_validator("postgres_uri")
    @classmethod
    def _postgres_uri(cls, value: str | None) -> str | None:
        if value:
            scheme = urlsplit(value).scheme
            if scheme not in POSTGRES_SCHEMES:
                raise ValueError(f"must be a postgres:// URI, not '{scheme}:'")
        return value or None

    @model_validator(mode="after")
    def _supported(self) -> Settings:
        """Reference flags this service does not implement: set, they must fail loudly."""
        problems = []
        if self.temporal_encryption_enabled and not (self.temporal_encryption_key or self.temporal_encryption_key_file):
            problems.append("--temporal-encryption-enabled needs --temporal-encryption-key (or its -file)")
        if self.audit_enabled and not self.nats_address():
            problems.append("--audit-enabled publishes to NATS: it needs --nats-url (or --publisher-nats-url)")
        if self.postgres_aws_enable_iam:
            problems.append("--postgres-aws-enable-iam is not supported")
        problems += self._auth_problems()
        if self.publisher_nats_enabled and not self.nats_address():
            problems.append("--publisher-nats-enabled needs --publisher-nats-url (or --nats-url)")
        if self.otel_traces_exporter_otlp_endpoint and self.otel_traces_exporter != "otlp":
            problems.append("--otel-traces-exporter-otlp-endpoint needs --otel-traces-exporter otlp")
        if bool(self.temporal_ssl_client_cert) != bool(self.temporal_ssl_client_key):
            problems.append("--temporal-ssl-client-cert and --temporal-ssl-client-key go together")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _auth_problems(self) -> list[str]:
        problems = []
        clients = bool(self.auth_clients or self.auth_clients_file)
        if self.auth_enabled and not self.auth_issuer:
            problems.append("--auth-enabled needs --auth-issuer, the URL of the issuer whose tokens to accept")
        if self.auth_enabled and not self.stack_url and not clients:
            problems.append(
                "--auth-enabled with the built-in sandbox (no --stack-url) needs --auth-clients: "
                "the worker moves money on the sandbox as one of its clients"
            )
        if self.auth_service != "orchestration" and clients:
            problems.append(
                "--auth-service other than orchestration goes with --auth-enabled alone: the built-in issuer grants orchestration scopes"
            )
        if self.auth_base_url and self.auth_issuer and self.auth_base_url.rstrip("/") == self.auth_issuer.rstrip("/"):
            problems.append("--auth-base-url (the built-in issuer) and --auth-issuer (an external one) must differ")
        return problems

    def nats_address(self) -> str | None:
        """`--nats-url`, else the reference's `--publisher-nats-url`."""
        return self.nats_url or self.publisher_nats_url or None

    def json_logs(self) -> bool:
        """`--log-format json`, or the reference's `--json-formatting-logger`."""
        return self.log_format == "json" or self.json_formatting_logger

    def listen_address(self) -> tuple[str, int]:
        """The host and port of `--listen`."""
        return parse_listen(self.listen)


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def env_name(field: str) -> str:
    return field.upper()


def commands_of(field: FieldInfo) -> list[str]:
    extra = field.json_schema_extra
    assert isinstance(extra, dict), "every setting is declared with _flag()"
    commands = extra["commands"]
    assert isinstance(commands, list)
    return [str(command) for command in commands]


def load_settings(given: Mapping[str, Any]) -> Settings:
    """The settings from the flags `given` (by field name) over the environment, checked; a
    mistake is one `ConfigurationError` naming the flag, or the variable it came from."""
    try:
        return Settings(**given)
    except ValidationError as error:
        raise ConfigurationError("; ".join(_problem(detail, given) for detail in error.errors())) from None


_MESSAGES = {
    "bool_parsing": "must be true or false",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "greater_than": "must be greater than {gt:g}",
    "int_parsing": "must be an integer",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "string_pattern_mismatch": "must be lowercase letters, digits, '-' or '_'",
}


def _message(detail: ErrorDetails) -> str:
    template = _MESSAGES.get(detail["type"])
    if template is not None:
        return template.format(**detail.get("ctx", {}))
    message = detail["msg"].removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def _problem(detail: ErrorDetails, given: Mapping[str, Any]) -> str:
    message = _message(detail)
    if not detail["loc"]:
        return message  # a check across fields, which names its flags
    field = str(detail["loc"][0])
    where = flag_name(field) if field in given else f"{env_name(field)} ({flag_name(field)})"
    info = Settings.model_fields.get(field)
    extra = info.json_schema_extra if info else None
    secret = not isinstance(extra, dict) or extra.get("secret", True)
    if secret:
        return f"{where}: {message}"
    return f"{where} {str(detail['input'])[:100]!r}: {message}"
