"""A plugin defined only here (a reader, a tracker and a sink) is accepted by the config and built by the
pipeline: registering it is all it takes, no edit anywhere in the package."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pytest

from ovr_alpr.config import OcrConfig, SinkConfig, TrackerConfig
from ovr_alpr.errors import ConfigError
from ovr_alpr.events.model import PlateEvent
from ovr_alpr.ocr import READERS
from ovr_alpr.pipeline import Pipeline, load_config
from ovr_alpr.plate_text import PlateText
from ovr_alpr.runtime.convert import make_tiny_model, save
from ovr_alpr.sinks import SINKS
from ovr_alpr.sinks.base import BaseSink
from ovr_alpr.synth.clip import make_clip
from ovr_alpr.track import TRACKERS, ByteTrack, ByteTrackConfig
from ovr_alpr.types import Detections
from scripted import ScriptedDetector

TINY_MODEL: dict[str, Path] = {}


class FixedReaderConfig(OcrConfig):
    type: Literal["fixed-text"] = "fixed-text"
    text: str = "TEST123"


@READERS.register("fixed-text", config=FixedReaderConfig)
class FixedReader:
    def __init__(self, text: str) -> None:
        self.text = text

    @classmethod
    def default_model(cls) -> Path:
        return TINY_MODEL["path"]  # loaded by the pipeline's builder like any reader's model

    @classmethod
    def from_config(cls, cfg: FixedReaderConfig, backend) -> FixedReader:
        return cls(cfg.text)

    def read(self, crop: np.ndarray) -> PlateText:
        return self.read_batch([crop])[0]

    def read_batch(self, crops: list[np.ndarray]) -> list[PlateText]:
        return [PlateText(self.text, 0.99, (0.99,) * len(self.text)) for _ in crops]

    def warmup(self) -> None:
        pass


class ListSinkConfig(SinkConfig):
    type: Literal["memory-list"] = "memory-list"
    label: str

    def target(self) -> str:
        return self.label

    @classmethod
    def from_spec(cls, spec: str) -> ListSinkConfig | None:
        return cls(label=spec.removeprefix("memory:")) if spec.startswith("memory:") else None


RECEIVED: dict[str, list[PlateEvent]] = {}


@SINKS.register("memory-list", config=ListSinkConfig)
class ListSink(BaseSink):
    def __init__(self, config: ListSinkConfig, *, name: str, spool_dir: Path) -> None:
        self.name = name
        self.events = RECEIVED.setdefault(config.label, [])

    def publish(self, event: PlateEvent) -> None:
        self.events.append(event)

    def poll(self) -> None:
        pass

    def flush(self, timeout_s: float) -> int:
        return 0

    def close(self) -> None:
        pass


class CountingTrackerConfig(ByteTrackConfig):
    type: Literal["counting"] = "counting"  # type: ignore[assignment]


CALLS = {"updates": 0}


@TRACKERS.register("counting", config=CountingTrackerConfig)
class CountingTracker(ByteTrack):
    def update(self, detections: Detections, timestamp: float | None = None) -> Detections:
        CALLS["updates"] += 1
        return super().update(detections, timestamp)


def test_config_accepts_test_plugins_with_their_own_keys_and_rejects_unknown_ones(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(
        "ocr: {type: fixed-text, text: AB12CD}\n"
        "tracker: {type: counting}\n"
        "sinks: [{type: memory-list, label: a}]\n"
    )
    cfg = load_config(cfg_file)
    assert isinstance(cfg.ocr, FixedReaderConfig) and cfg.ocr.text == "AB12CD"
    assert isinstance(cfg.tracker, CountingTrackerConfig)
    assert isinstance(cfg.sinks[0], ListSinkConfig)
    assert cfg.model_dump()["ocr"]["text"] == "AB12CD"  # the plugin's own keys survive a dump
    cfg_file.write_text("ocr: {type: fixed-text, txet: X}\n")
    with pytest.raises(ConfigError, match=r"ocr\.txet: unknown key"):
        load_config(cfg_file)
    cfg_file.write_text("sinks: [{type: nosuch}]\n")
    with pytest.raises(ConfigError, match=r"unknown sink 'nosuch'.*memory-list"):
        load_config(cfg_file)
    assert isinstance(TrackerConfig, type) and TrackerConfig is not CountingTrackerConfig


def test_pipeline_builds_and_runs_test_plugins(tmp_path):
    clip = tmp_path / "c.mp4"
    manifest = make_clip(clip, vehicles=2, size=(640, 360), seconds=4, fps=12, seed=5)
    TINY_MODEL["path"] = save(make_tiny_model(), tmp_path / "tiny.onnx")
    cfg = load_config(
        None,
        {
            "cameras": [{"id": "cam0", "source": str(clip)}],
            "tracker": {"type": "counting"},
            "sinks": [{"type": "memory-list", "label": "run"}],
            "output_dir": str(tmp_path / "out"),
            "ocr": {"type": "fixed-text", "text": "ZZ99ZZ"},
        },
    )
    from ovr_alpr.detect.plates import PlateFinder

    pipeline = Pipeline(cfg, finder=PlateFinder(ScriptedDetector(manifest)))  # reader, tracker, sink: built
    assert isinstance(pipeline.reader, FixedReader)
    result = pipeline.run()
    assert CALLS["updates"] > 0
    assert [e.event_id for e in RECEIVED["run"]] == [e.event_id for e in result.events]
    assert RECEIVED["run"] and all(e.plate.normalized_text == "ZZ99ZZ" for e in RECEIVED["run"])
