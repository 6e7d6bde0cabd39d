"""`ocr.second_opinion`: a second model reads the crops the first is unsure of; the more confident read
wins."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ovr_alpr.errors import ConfigError
from ovr_alpr.ocr import build_reader
from ovr_alpr.ocr.second import SecondOpinionConfig, SecondOpinionReader
from ovr_alpr.pipeline.config import AppConfig
from ovr_alpr.plate_text.text import PlateText
from ovr_alpr.synth.plates import random_plate_text, render_plate
from ovr_alpr.tools.degrade import degrade

ASSETS = Path(__file__).resolve().parents[2] / "src" / "ovr_alpr" / "assets"


class Scripted:
    """A reader that returns, per crop, the read listed under the crop's first pixel value."""

    def __init__(self, reads: dict[int, PlateText]) -> None:
        self.reads = reads
        self.seen: list[int] = []

    def read_batch(self, crops):
        keys = [int(c[0, 0, 0]) for c in crops]
        self.seen += keys
        return [self.reads[k] for k in keys]

    def warmup(self) -> None:
        pass


def _read(text: str, conf: float) -> PlateText:
    return PlateText(text, conf, (conf,) * len(text))


def _crop(key: int) -> np.ndarray:
    return np.full((20, 60, 3), key, np.uint8)


def test_only_unsure_crops_are_read_again_and_only_a_sure_second_read_is_taken():
    first = Scripted(
        {1: _read("AB123", 0.97), 2: _read("A8123", 0.55), 3: _read("XY99", 0.8), 4: _read("K1", 0.2)}
    )
    second = Scripted({2: _read("AB123", 0.9), 3: _read("XV99", 0.6), 4: _read("KL77", 0.85)})
    reader = SecondOpinionReader(first, second, below=0.9)
    out = reader.read_batch([_crop(1), _crop(2), _crop(3), _crop(4)])
    # 2: the second is sure; 3: it is less sure than the first; 4: more sure than the first, but not sure
    assert [r.text for r in out] == ["AB123", "AB123", "XY99", "K1"]
    assert out[1].confidence == 0.9 and out[2].confidence == 0.8
    assert second.seen == [2, 3, 4]  # the confident crop was read once
    assert reader.read(_crop(1)).text == "AB123" and second.seen == [2, 3, 4]


def test_config_default_and_errors():
    assert AppConfig().ocr.second_opinion == SecondOpinionConfig(path=None, below=0.9)  # the embedded one
    assert AppConfig.model_validate({"ocr": {"second_opinion": None}}).ocr.second_opinion is None
    fpo = AppConfig.model_validate({"ocr": {"type": "fast_plate_ocr", "model": {"path": "m.onnx"}}})
    assert fpo.ocr.second_opinion is None
    with pytest.raises(ValueError, match="below"):
        AppConfig.model_validate({"ocr": {"second_opinion": {"below": 0}}})
    with pytest.raises(ValueError, match="second_opinion"):
        AppConfig.model_validate({"ocr": {"second_opinion": {"pathh": "x.onnx"}}})


def test_a_reader_type_without_an_embedded_second_model_says_to_set_its_path():
    model = ASSETS / "plate_reader.onnx"
    cfg = AppConfig.model_validate(
        {"ocr": {"type": "fast_plate_ocr", "model": {"path": str(model)}, "second_opinion": {}}}
    )
    with pytest.raises(ConfigError, match="no embedded second model") as exc:
        build_reader(cfg.ocr)
    assert "ocr.second_opinion.path" in exc.value.one_line()


def _smeared_plates(n: int, seed: int, px: int, width: int = 100) -> list[tuple[str, np.ndarray]]:
    """Rendered plates `width` px wide (as a street camera sees them), smeared sideways by `px`."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        style = ("eu", "us")[i % 2]
        text = random_plate_text(rng, style)
        plate = render_plate(text, rng, style)
        h = round(plate.shape[0] * width / plate.shape[1])
        small = cv2.resize(plate, (width, h), interpolation=cv2.INTER_AREA)
        out.append((text, degrade(small, smear_px=px)))
    return out


@pytest.mark.skipif(not (ASSETS / "plate_reader_blur.onnx").is_file(), reason="assets not built")
def test_the_embedded_second_opinion_reads_smeared_plates_the_first_model_misses():
    plain = build_reader(AppConfig.model_validate({"ocr": {"second_opinion": None}}).ocr)
    default = build_reader(AppConfig().ocr)
    assert isinstance(default, SecondOpinionReader)
    plates = _smeared_plates(24, 5, px=8)  # 8 % of the plate width
    crops = [img for _, img in plates]
    right_plain = sum(r.text == t for (t, _), r in zip(plates, plain.read_batch(crops), strict=True))
    right = sum(r.text == t for (t, _), r in zip(plates, default.read_batch(crops), strict=True))
    assert right > right_plain, (right, right_plain)
    # and a sharp plate read confidently is the first model's read, untouched
    sharp = _smeared_plates(8, 6, px=0)
    ones = plain.read_batch([img for _, img in sharp])
    both = default.read_batch([img for _, img in sharp])
    for a, b in zip(ones, both, strict=True):
        if a.confidence >= 0.9:
            assert b == a
