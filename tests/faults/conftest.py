"""Fixtures for the fault tests: a tiny generated clip and stand-in models, so whole runs take a second."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fault_helpers import BoxDetector, PlateReads, write_clip

from ovr_alpr.detect.plates import PlateFinder


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    """60 frames at 12 fps: the stand-in detector makes 2 plate passes in it."""
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4")


@pytest.fixture
def fake_models(monkeypatch):
    """Every `Pipeline` built in the test (CLI runs included) uses the stand-in detector and reader."""
    import ovr_alpr.pipeline.pipeline as pipeline_module

    made: dict[str, list] = {"detectors": [], "readers": []}

    def finder(*_args, **_kwargs):
        detector = BoxDetector()
        made["detectors"].append(detector)
        return PlateFinder(detector)

    def reader(*_args, **_kwargs):
        r = PlateReads()
        made["readers"].append(r)
        return r

    monkeypatch.setattr(pipeline_module, "build_finder", finder)
    monkeypatch.setattr(pipeline_module, "build_reader", reader)
    return made


@pytest.fixture(autouse=True)
def _restore_logging():
    """CLI runs point the root logger at the test's captured stderr: drop stale handlers, restore after."""
    root = logging.getLogger()
    for handler in root.handlers[:]:  # left by an earlier test's CLI run, its captured stream now closed
        if getattr(getattr(handler, "stream", None), "closed", False):
            root.removeHandler(handler)
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
