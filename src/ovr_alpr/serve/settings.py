"""Settings of `ovr-alpr serve` (command line, optional YAML file, env `OVR_ALPR_API_TOKEN`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError

TOKEN_ENV = "OVR_ALPR_API_TOKEN"


class ServeSettings(BaseModel):
    """Everything `serve` needs. Safe defaults: local address only, writes refused without a token.

    Attributes:
        host, port: where to listen; 127.0.0.1 unless told otherwise.
        db: SQLite file or postgresql:// URL; empty = `output_dir/events.db`.
        token: API token that writes (POST, PUT, DELETE) must carry as `Authorization: Bearer TOKEN`
            (or `X-API-Token`); default env OVR_ALPR_API_TOKEN. No token = the API is read-only.
        max_body_bytes: larger request bodies get 413.
        kafka: `HOST:PORT/TOPIC` to consume events from (consumer group `kafka_group`).
        mqtt: `HOST:PORT` of the broker for alerts and Home Assistant discovery.
        webhooks: URLs that get each alert as an HTTP POST (retried with back-off).
        retention_days, retention_max_bytes: delete the oldest events (and crops) past either limit.
    """

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    output_dir: str = "out"
    db: str = ""
    crops_dir: str | None = None
    token: str | None = Field(default=None, repr=False)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_batch: int = Field(default=1000, ge=1, description="events in one POST at most")
    kafka: str | None = None
    kafka_group: str = "ovr-alpr-serve"
    kafka_options: dict[str, Any] = Field(
        default_factory=dict, description="more librdkafka consumer settings"
    )
    mqtt: str | None = None
    plate_reader: bool = Field(
        default=True,
        description="serve POST /v1/plate-reader/ and /v1/vision/alpr (models load on the first upload)",
    )
    mqtt_topic: str = Field(default="ovr-alpr", description="prefix of the service's own MQTT topics")
    ha_discovery: bool = True
    ha_prefix: str = "homeassistant"
    ha_off_delay_s: int = Field(default=30, ge=1, description="a watchlist's binary sensor turns off after")
    webhooks: list[str] = Field(default_factory=list)
    webhook_retries: int = Field(default=5, ge=0)
    retention_days: float | None = Field(default=None, gt=0)
    retention_max_bytes: int | None = Field(default=None, gt=0)
    retention_interval_s: float = Field(default=600.0, gt=0)

    @field_validator("kafka")
    @classmethod
    def _kafka(cls, value: str | None) -> str | None:
        if value is not None:
            address, _, topic = value.removeprefix("kafka://").partition("/")
            if ":" not in address or not topic:
                raise ValueError(f"kafka must be HOST:PORT/TOPIC, got {value!r}")
        return value

    @property
    def api_token(self) -> str | None:
        return self.token or os.environ.get(TOKEN_ENV) or None

    @property
    def db_target(self) -> str:
        return self.db or str(Path(self.output_dir) / "events.db")


def load_settings(path: str | Path | None = None, **overrides: Any) -> ServeSettings:
    """YAML file (optional) then the given options (None = not given). Raises `ConfigError`."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"serve config {p} not found", "check the --config path")
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError:
            raise ConfigError(f"serve config {p} is not valid YAML", "fix the YAML syntax") from None
    data.update({k: v for k, v in overrides.items() if v is not None and v != []})
    try:
        return ServeSettings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(root)"
        raise ConfigError(f"invalid serve setting {where}: {first['msg']}", "fix that option") from None
