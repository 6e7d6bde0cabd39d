"""Shared fixtures: a fake inference backend and paths to optional third-party data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
OPENALPR = SHARED / "data" / "openalpr"
YOLOX_NANO = SHARED / "models" / "yolox_nano.onnx"


class FakeBackend:
    """Stands in for an `InferenceBackend`: returns fixed outputs and records its inputs."""

    name = "fake"
    provider = "none"
    precision = "fp32"

    def __init__(self, outputs, input_shape=(1, 3, 640, 640), input_dtype=np.float32, **attrs) -> None:
        self.outputs = outputs
        self.input_shape = input_shape
        self.input_dtype = np.dtype(input_dtype)
        self.model_path = Path("fake.onnx")
        self.calls: list[np.ndarray] = []
        for k, v in attrs.items():
            setattr(self, k, v)

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        self.calls.append(batch)
        return self.outputs(batch) if callable(self.outputs) else self.outputs


@pytest.fixture
def fake_backend():
    return FakeBackend


@pytest.fixture(scope="session")
def openalpr_dir() -> Path:
    if not OPENALPR.is_dir():
        pytest.skip(f"{OPENALPR} is absent (third-party OpenALPR benchmark data lives in ../shared/data)")
    return OPENALPR


@pytest.fixture(scope="session")
def yolox_nano() -> Path:
    if not YOLOX_NANO.is_file():
        pytest.skip(f"{YOLOX_NANO} is absent (the COCO YOLOX-Nano lives in ../shared/models)")
    return YOLOX_NANO


@pytest.fixture(autouse=True)
def _restore_logging():
    """A CLI run in a test points the root logger at that test's captured stderr; undo it afterwards, so a
    later test does not log into a closed stream."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
