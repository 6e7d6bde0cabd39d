"""`ovr-alpr serve`: the event service (API, web page, Kafka ingest, alerts) over the event store."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

log = logging.getLogger("ovr_alpr.serve")


def serve_command(
    db: str = typer.Option(
        None, "--db", help="SQLite file or postgresql://USER:PASS@HOST/DB (default OUT/events.db)"
    ),
    output_dir: str = typer.Option(
        None, "--output-dir", "-o", help="where the default database and crops live"
    ),
    crops_dir: str = typer.Option(
        None, "--crops-dir", help="crop files (default: crops/ next to the SQLite file)"
    ),
    host: str = typer.Option(None, "--host", help="address to listen on (default 127.0.0.1, local only)"),
    port: int = typer.Option(None, "--port", "-p", help="port (default 8080)"),
    config: Path = typer.Option(None, "--config", "-c", help="serve settings YAML (keys as ServeSettings)"),
    kafka: str = typer.Option(None, "--kafka", help="consume events from HOST:PORT/TOPIC"),
    kafka_group: str = typer.Option(None, "--kafka-group", help="consumer group (default ovr-alpr-serve)"),
    mqtt: str = typer.Option(
        None, "--mqtt", help="HOST:PORT of the MQTT broker for alerts and Home Assistant"
    ),
    webhook: list[str] = typer.Option(None, "--webhook", help="POST each alert to this URL (repeatable)"),
    retention_days: float = typer.Option(None, "--retention-days", help="delete events older than this"),
    retention_max_gb: float = typer.Option(None, "--retention-max-gb", help="keep the store under this size"),
    import_jsonl: list[Path] = typer.Option(
        None, "--import", help="store the events of a JSONL file (e.g. out/demo/events.jsonl) before serving"
    ),
    log_level: str = typer.Option("INFO", "--log-level", help="DEBUG, INFO, WARNING or ERROR"),
) -> None:
    """Serve the event store: search API (/docs), live page (/), Kafka ingest, watchlist alerts, /metrics."""
    from ..serve.settings import load_settings

    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        force=True,
    )
    settings = load_settings(
        config,
        db=db,
        output_dir=output_dir,
        crops_dir=crops_dir,
        host=host,
        port=port,
        kafka=kafka,
        kafka_group=kafka_group,
        mqtt=mqtt,
        webhooks=webhook or None,
        retention_days=retention_days,
        retention_max_bytes=int(retention_max_gb * 1e9) if retention_max_gb else None,
    )
    import uvicorn

    from ..serve.app import create_app
    from ..serve.service import EventService

    service = EventService(settings)
    for path in import_jsonl or []:
        count = service.import_jsonl(path)
        typer.echo(f"imported {count} event(s) from {path}")
    app = create_app(settings, service)
    if not settings.api_token:
        log.warning("no API token set (OVR_ALPR_API_TOKEN): the API is read-only")
    typer.echo(f"event service on http://{settings.host}:{settings.port}/  (API docs: /docs)")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level.lower(), access_log=False)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
