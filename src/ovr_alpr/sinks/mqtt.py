"""MQTT sink (paho-mqtt 2.x): QoS 1 by default, reconnects with back-off; undelivered events are spooled."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from pydantic import Field

from ..config import SinkConfig
from ..errors import SinkError
from .base import SINKS, broker_url_parts, sink_name
from .broker import BrokerSink

logger = logging.getLogger(__name__)


class MqttSinkConfig(SinkConfig):
    """`mqtt://HOST:PORT/TOPIC`: QoS 1 by default."""

    type: Literal["mqtt"] = "mqtt"
    host: str
    port: int = Field(default=1883, ge=1, le=65535)
    topic: str = "alpr/events"
    qos: Literal[0, 1, 2] = 1
    client_id: str | None = None
    username: str | None = None
    password: str | None = Field(default=None, repr=False)

    def target(self) -> str:
        return f"{self.host}-{self.port}-{self.topic}"

    @classmethod
    def from_spec(cls, spec: str) -> MqttSinkConfig | None:
        """`mqtt://[USER:PASS@]HOST:PORT/TOPIC`: URL credentials are used (percent-decoded), never printed."""
        if not spec.startswith("mqtt://"):
            return None
        host, port, topic, url = broker_url_parts(spec)
        credentials = {}
        if url.username is not None:
            credentials["username"] = unquote(url.username)
            if url.password is not None:
                credentials["password"] = unquote(url.password)
        return cls(host=host, port=port or 1883, **({"topic": topic} if topic else {}), **credentials)


@SINKS.register("mqtt", config=MqttSinkConfig)
class MqttSink(BrokerSink):
    """Publishes each event as JSON to `config.topic` and waits for the broker's acknowledgement.

    With QoS 1 or 2 an event counts as delivered on PUBACK / PUBCOMP; with QoS 0 once written to the
    socket. The client connects in its own thread (`loop_start`) and reconnects with a doubling delay;
    while it is disconnected, events go straight to the spool, which is re-sent after reconnecting.

    Args:
        config: host, port, topic, QoS, client id and credentials.
        name: sink name; default from `sink_name(config)`.
        spool_dir: where undelivered events wait; default `config.spool_dir` or `out/spool/<name>`.
        reconnect_min_s: first reconnect delay (s).
        reconnect_max_s: longest reconnect delay (s).
        keepalive_s: MQTT keep-alive (s); a silently dead connection is noticed after about 1.5 x this.
        **delivery: `BrokerSink` tuning (`ack_timeout_s`, `retry_min_s`, `close_timeout_s`, ...).

    Raises:
        SinkError: the spool folder cannot be used.
    """

    probe_when_down = False

    def __init__(
        self,
        config: MqttSinkConfig,
        *,
        name: str | None = None,
        spool_dir: str | Path | None = None,
        reconnect_min_s: int = 1,
        reconnect_max_s: int = 10,
        keepalive_s: int = 30,
        **delivery: Any,
    ) -> None:
        name = name or sink_name(config)
        if not config.topic or "+" in config.topic or "#" in config.topic:
            raise SinkError(
                f"mqtt sink {name}: cannot publish to topic {config.topic!r}",
                "use a topic without the wildcards + and #",
            )
        super().__init__(
            name, Path(spool_dir or config.spool_dir or Path("out") / "spool" / name), **delivery
        )
        self.config = config
        self.topic = config.topic
        self.qos = config.qos
        self._mids: dict[int, int] = {}
        self._mids_lock = threading.Lock()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=config.client_id or "",
            clean_session=True,
            reconnect_on_failure=True,
        )
        if config.username is not None:
            self._client.username_pw_set(config.username, config.password)
        self._client.reconnect_delay_set(
            min_delay=reconnect_min_s, max_delay=max(reconnect_min_s, reconnect_max_s)
        )
        self._client.enable_logger(logging.getLogger(f"{__name__}.paho"))
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        # connect_async + loop_start: the first connection is retried in the client thread, so an
        # unreachable broker at start only means spooling, not an error.
        self._client.connect_async(config.host, config.port, keepalive=keepalive_s)
        self._client.loop_start()

    # ------------------------------------------------------------ client callbacks (paho's thread)

    def _on_connect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            self._report_broker(False, f"connection refused: {reason}")
        else:
            self._report_broker(True, f"connected to {self.config.host}:{self.config.port}")

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        self._report_broker(False, f"cannot connect to {self.config.host}:{self.config.port}")

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self._report_broker(False, f"disconnected: {reason}")

    def _on_publish(self, _client: mqtt.Client, _userdata: Any, mid: int, reason: Any, _props: Any) -> None:
        failed = reason is not None and getattr(reason, "is_failure", False)
        self._report_delivery(mid, f"broker refused: {reason}" if failed else None)

    # ------------------------------------------------------------ BrokerSink hooks

    def _token_for(self, ref: Any) -> int | None:
        with self._mids_lock:
            return self._mids.pop(ref, None)

    def _send(self, token: int, record: str, key: str) -> bool:
        info = self._client.publish(self.topic, record.encode("utf-8"), qos=self.qos)
        # NO_CONN: paho keeps a QoS>0 message and sends it after reconnecting; the ack timeout covers it.
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            logger.debug("%s: publish refused: %s", self.name, mqtt.error_string(info.rc))
            return False
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and self.qos == 0:
            return False
        with self._mids_lock:
            self._mids[info.mid] = token
        return True

    def _serve(self, timeout_s: float) -> None:
        # paho runs in its own thread; just wait until it reports something.
        if timeout_s > 0 and self._wakeup.wait(timeout_s):
            self._wakeup.clear()

    def _close_client(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
