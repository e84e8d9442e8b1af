"""Configuration: every flag also reads the environment variable of its name (`--postgres-uri` ←
`POSTGRES_URI`), keeping the reference implementation's names where they exist."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from flows.datadir import default_data_dir


def _split(value: object) -> object:
    if isinstance(value, str):
        return [item for item in value.replace(",", " ").split() if item]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    listen: str = "127.0.0.1:8080"
    worker: bool = True
    data_dir: Path = Field(default_factory=default_data_dir)
    debug: bool = False

    postgres_uri: str | None = None
    postgres_aws_enable_iam: bool = False

    temporal_address: str | None = None
    temporal_namespace: str = "default"
    temporal_task_queue: str = "flows"
    temporal_ssl_client_cert: str | None = None
    temporal_ssl_client_key: str | None = None
    temporal_encryption_enabled: bool = False

    stack: str = ""
    stack_url: str | None = None
    stack_client_id: str | None = None
    stack_client_secret: str | None = None
    stack_client_secret_file: Path | None = None
    topics: Annotated[list[str], NoDecode] = []
    nats_url: str | None = None
    publisher_nats_enabled: bool = False
    publisher_nats_url: str | None = None
    publisher_topic_mapping: Annotated[list[str], NoDecode] = []

    auth_enabled: bool = False
    auth_clients: str | None = None
    auth_clients_file: Path | None = None
    auth_signing_key: str | None = None
    auth_signing_key_file: Path | None = None

    wait_timeout: float = 4.0
    # The sandbox's /api/sandbox hooks (request recording, holds parking writes): tests only.
    sandbox_test_hooks: bool = False

    @field_validator("topics", "publisher_topic_mapping", mode="before")
    @classmethod
    def _topics(cls, value: object) -> object:
        return _split(value)

    def nats_address(self) -> str | None:
        """`--nats-url`, else the reference's `--publisher-nats-url`."""
        return self.nats_url or self.publisher_nats_url or None

    def listen_address(self) -> tuple[str, int]:
        """`host:port`; the reference's `:8080` form means every interface."""
        host, _, port = self.listen.rpartition(":")
        if not port.isdigit():
            raise ValueError(f"--listen must be host:port, got '{self.listen}'")
        return (host.strip("[]") or "0.0.0.0"), int(port)

    def unsupported(self) -> list[str]:
        """Reference flags this service does not implement; set, they must fail loudly."""
        problems = []
        if self.temporal_encryption_enabled:
            problems.append("--temporal-encryption-enabled (payload encryption) is not supported")
        if self.postgres_aws_enable_iam:
            problems.append("--postgres-aws-enable-iam is not supported")
        if self.auth_enabled and not (self.auth_clients or self.auth_clients_file):
            problems.append(
                "--auth-enabled (an external issuer) is not supported yet: "
                "use --auth-clients id:secret to protect the API with the built-in issuer"
            )
        if self.publisher_nats_enabled and not self.nats_address():
            problems.append("--publisher-nats-enabled needs --publisher-nats-url (or --nats-url)")
        if bool(self.temporal_ssl_client_cert) != bool(self.temporal_ssl_client_key):
            problems.append("--temporal-ssl-client-cert and --temporal-ssl-client-key go together")
        return problems
