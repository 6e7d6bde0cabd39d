"""Every model shipped in the package has its model card beside it, and stays small."""

from __future__ import annotations

from pathlib import Path

import pytest

from ovr_alpr.runtime.zoo import EMBEDDED

ASSETS = Path(__file__).resolve().parents[2] / "src" / "ovr_alpr" / "assets"
SHIPPED = sorted(ASSETS.glob("*.onnx"))
MAX_MB = {
    "plate_detector": 12,
    "plate_detector_cpu": 12,
    "plate_reader": 5,
    "plate_reader_blur": 5,
    "plate_reader_context": 5,
}


def test_the_shipped_models_are_the_embedded_ones():
    ours = {Path(rel).name for package, rel, *_ in EMBEDDED.values() if package == "ovr_alpr"}
    assert ours == {p.name for p in SHIPPED}


@pytest.mark.parametrize("model", SHIPPED, ids=lambda p: p.stem)
def test_a_shipped_model_has_a_card_with_its_data_licence_and_command(model):
    card = model.with_suffix(".md")
    assert card.is_file(), f"{model.name} has no model card {card.name}"
    text = card.read_text()
    for needed in ("## Data", "## Training", "Licence", "ovr-alpr train", "```"):
        assert needed in text, f"{card.name} lacks {needed!r}"
    assert model.stat().st_size <= MAX_MB[model.stem] * 1e6
