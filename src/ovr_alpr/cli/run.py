"""`ovr-alpr run`: the main job on one source (or every camera of a config file)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from ..errors import ConfigError, SinkError, check_writable
from ..events.model import PlateEvent
from ..pipeline.config import AppConfig, format_validation_error, load_config, parse_sink_spec
from ..tools.calibrate import with_int8_calibration

log = logging.getLogger("ovr_alpr")


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        force=True,
    )
    for noisy in ("trackers", "urllib3", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def build_config(config: Path | None, source: str | None, **options: Any) -> AppConfig:
    """Config file first, then the command-line options that were given."""
    overrides: dict[str, Any] = {}
    plain = {
        "output_dir": "output_dir",
        "log_level": "log_level",
        "drain_timeout": "drain_timeout_s",
        "site": "node.site",
        "host": "node.host",
        "plate_conf": "plate_detector.conf_threshold",
        "ocr_min_conf": "ocr.min_confidence",
        "stats_interval": "stats_interval_s",
        "fail_fast": "fail_fast",
    }
    for key, dotted in plain.items():
        value = options.get(key)
        if value is not None:
            overrides[dotted] = value
    cfg = load_config(config, overrides)
    data = cfg.model_dump()
    cam_opts = {k: options[k] for k in ("frame_skip", "target_fps", "loop") if options.get(k) is not None}
    if source is not None or options.get("camera_id") or cam_opts:
        if len(data["cameras"]) > 1 and source is not None:
            raise ConfigError(
                "--source given but the config has several cameras",
                "drop --source, or use a config with one camera",
            )
        cam = data["cameras"][0]
        if source is not None:
            cam["source"] = source
        if options.get("camera_id"):
            cam["id"] = options["camera_id"]
        cam.update(cam_opts)
    for model_key in ("plate_detector", "ocr"):
        if options.get("device"):
            data[model_key]["model"]["device"] = options["device"]
    if options.get("precision"):
        data["plate_detector"]["model"]["precision"] = options["precision"]
    if options.get("vehicle_model"):
        data["vehicle_detector"] = {
            "model": {"path": options["vehicle_model"], "device": options.get("device") or "cpu"}
        }
    if options.get("sinks"):
        data["sinks"] = [*data["sinks"], *(parse_sink_spec(s).model_dump() for s in options["sinks"])]
    if options.get("no_crops"):
        data["save_crops"] = False
    try:
        cfg = AppConfig.model_validate(data)
    except ValidationError as exc:  # from command-line values
        raise ConfigError(format_validation_error(exc, "(command line)"), "fix that option") from None
    if not any(c.source for c in cfg.cameras):
        raise ConfigError(
            "no source given", "pass --source FILE|DIR|URL|INDEX or set cameras[].source in the config"
        )
    return cfg


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        source: str = typer.Option(
            None, "--source", "-s", help="video file, image folder, rtsp/http URL or camera index"
        ),
        config: Path = typer.Option(None, "--config", "-c", help="YAML config file"),
        sink: list[str] = typer.Option(
            None,
            "--sink",
            help="jsonl:PATH, csv:PATH, kafka://HOST:PORT/TOPIC, mqtt://HOST:PORT/TOPIC, db:PATH|URL, "
            "http://HOST:PORT, webhook:URL (repeatable)",
        ),
        camera_id: str = typer.Option(None, "--camera-id", help="camera id put in events"),
        site: str = typer.Option(None, "--site", help="site id put in events"),
        host: str = typer.Option(None, "--host", help="host id put in events (default: hostname)"),
        output_dir: str = typer.Option(None, "--output-dir", "-o", help="crops, spool and stats go here"),
        frame_skip: int = typer.Option(None, "--frame-skip", help="process every (N+1)-th frame"),
        target_fps: float = typer.Option(
            None, "--target-fps", help="process at most this many frames per second"
        ),
        loop: bool = typer.Option(None, "--loop/--no-loop", help="restart a file source at its end"),
        plate_conf: float = typer.Option(None, "--plate-conf", help="plate detector confidence threshold"),
        ocr_min_conf: float = typer.Option(
            None, "--ocr-min-conf", help="least fused OCR confidence published"
        ),
        vehicle_model: str = typer.Option(
            None, "--vehicle-model", help="vehicle detector (.onnx/.pt/.engine) to run vehicle-first"
        ),
        device: str = typer.Option(None, "--device", help="cpu or cuda:N for every model"),
        precision: str = typer.Option(None, "--precision", help="plate detector precision: fp32|fp16|int8"),
        max_frames: int = typer.Option(
            None, "--max-frames", min=1, help="stop after this many processed frames"
        ),
        drain_timeout: float = typer.Option(
            None, "--drain-timeout", help="seconds to wait for brokers at exit"
        ),
        stats_json: Path = typer.Option(None, "--stats-json", help="write the run's stats here at exit"),
        stats_interval: float = typer.Option(
            None, "--stats-interval", help="seconds between stats log lines"
        ),
        no_crops: bool = typer.Option(False, "--no-crops", help="do not save plate crops"),
        fail_fast: bool = typer.Option(
            None,
            "--fail-fast/--no-fail-fast",
            help="exit (code 3) if a live camera is unreachable at start, instead of retrying it",
        ),
        print_events: bool = typer.Option(True, "--print-events/--quiet", help="print one line per event"),
        log_level: str = typer.Option(None, "--log-level", help="DEBUG, INFO, WARNING or ERROR"),
        metrics_port: int = typer.Option(
            None, "--metrics-port", help="serve Prometheus /metrics on 127.0.0.1:PORT while running"
        ),
    ) -> None:
        """Read plates from a source and deliver one event per vehicle to the sinks."""
        cfg = build_config(
            config,
            source,
            sinks=sink,
            camera_id=camera_id,
            site=site,
            host=host,
            output_dir=output_dir,
            frame_skip=frame_skip,
            target_fps=target_fps,
            loop=loop,
            plate_conf=plate_conf,
            ocr_min_conf=ocr_min_conf,
            vehicle_model=vehicle_model,
            device=device,
            precision=precision,
            drain_timeout=drain_timeout,
            stats_interval=stats_interval,
            no_crops=no_crops,
            fail_fast=fail_fast,
            log_level=log_level.upper() if log_level else None,
        )
        if stats_json:
            check_writable(stats_json, "--stats-json")  # before the run, not after it
        setup_logging(cfg.log_level)
        run_pipeline(with_int8_calibration(cfg), max_frames, stats_json, print_events, metrics_port)


def run_pipeline(
    cfg: AppConfig,
    max_frames: int | None,
    stats_json: Path | None,
    print_events: bool,
    metrics_port: int | None = None,
) -> None:
    """Run the job, write the stats, and raise `SinkError` when events were lost or are still spooled."""
    from ..pipeline import Pipeline

    pipeline = Pipeline(cfg, collect_events=False)
    if metrics_port:
        from .run_metrics import serve_metrics

        serve_metrics(pipeline, metrics_port)
    if print_events:
        pipeline.on_event.append(EventPrinter())
    stats = pipeline.run(max_frames=max_frames, handle_signals=True).stats
    log.info(
        "done: %d frames, %.1f fps, %d events, %d OCR calls (%d saved by once-per-track), %d undelivered",
        stats["frames_processed"],
        stats["fps"],
        stats["events"],
        stats["ocr_calls"],
        stats["ocr_calls_saved"],
        stats["undelivered"],
    )
    if stats_json:
        try:
            stats_json.write_text(json.dumps(stats, indent=2))
        except OSError as exc:
            raise ConfigError(
                f"cannot write --stats-json {stats_json}: {exc.strerror or exc}",
                "free disk space or choose another path (the events were delivered)",
            ) from None
    _raise_if_undelivered(stats, pipeline.spool_dirs, cfg.output_dir)


def _raise_if_undelivered(stats: dict, spool_dirs: list[str], output_dir: str) -> None:
    if stats["lost"]:
        raise SinkError(
            f"{stats['lost']} event(s) lost: they could be neither delivered nor spooled "
            "(their ids are in the log)",
            f"free disk space for {output_dir}/spool and the sink files",
        )
    if stats["undelivered"]:
        where = ", ".join(spool_dirs) or str(Path(output_dir) / "spool")
        raise SinkError(
            f"{stats['undelivered']} event(s) not delivered before the drain timeout",
            f"they are kept in {where} and re-sent by the next run; "
            "check that the broker is reachable and the sink files writable",
        )


class EventPrinter:
    """One line per event on stdout (the demo's output); a pipeline `on_event` callback.

    When stdout is closed (`| head`), printing stops and the run goes on: the sinks still get every event.
    """

    def __init__(self) -> None:
        self.printing = True

    def __call__(self, e: PlateEvent) -> None:
        if not self.printing:
            return
        try:
            typer.echo(
                f"{e.captured_at.isoformat(timespec='milliseconds')} camera={e.camera_id} "
                f"track={e.track_id} plate={e.plate.normalized_text} conf={e.plate.confidence:.2f} "
                f"latency_ms={e.latency_ms:.0f} crop={e.images.plate_url}"
            )
        except BrokenPipeError:
            self.printing = False
            _silence_stdout()
            log.info("stdout was closed; events are no longer printed (the sinks still get them)")


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush into the closed pipe cannot fail."""
    import os
    import sys

    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)
