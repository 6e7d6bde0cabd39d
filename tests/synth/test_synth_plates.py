"""Rendered plates and generated plate texts: formats, determinism, looks."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ovr_alpr.synth.plates import PLATE_SIZE_PX, STYLES, random_plate_text, render_plate
from ovr_alpr.synth.vehicles import render_vehicle


@pytest.mark.parametrize("style", STYLES)
def test_texts_are_plausible_and_avoid_ambiguous_letters(style: str) -> None:
    rng = np.random.default_rng(0)
    texts = [random_plate_text(rng, style) for _ in range(300)]
    assert all(re.fullmatch(r"[A-Z0-9]{5,8}", t) for t in texts)
    assert not set("".join(texts)) & set("IOQ")
    assert not any(re.search(r"[A-Z]0|0[A-Z]", t) for t in texts)  # PP-OCR reads such a 0 as O
    assert all(any(c.isdigit() for c in t) and any(c.isalpha() for c in t) for t in texts)
    assert len(set(texts)) > 290


def test_same_seed_same_text_and_plate() -> None:
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    assert random_plate_text(a, "eu") == random_plate_text(b, "eu")
    assert np.array_equal(render_plate("AB123CD", a), render_plate("AB123CD", b))


@pytest.mark.parametrize(("style", "aspect"), [("eu", 4.6), ("us", 2.0)])
def test_plate_shape_aspect_and_ink(style: str, aspect: float) -> None:
    plate = render_plate("KX412PB", np.random.default_rng(1), style)
    height, width = plate.shape[:2]
    assert plate.dtype == np.uint8 and plate.shape[2] == 3
    assert (width, height) == PLATE_SIZE_PX[style]
    assert width / height == pytest.approx(aspect, rel=0.05)
    grey = plate.mean(axis=2)
    inner = grey[height // 4 : 3 * height // 4, width // 5 : 4 * width // 5]
    assert (inner < 80).mean() > 0.15  # bold dark characters
    assert (inner > 170).mean() > 0.3  # on a light sheet


def test_unknown_style_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match="eu, us"):
        render_plate("AB123", np.random.default_rng(0), "jp")
    with pytest.raises(ValueError, match="eu, us"):
        random_plate_text(np.random.default_rng(0), "jp")


@pytest.mark.parametrize("view", ["front", "rear"])
def test_vehicle_sprite_carries_the_plate_where_it_says(view: str) -> None:
    plate = render_plate("AB123CD", np.random.default_rng(2))
    sprite = render_vehicle(plate, np.random.default_rng(3), plate_width_px=150, view=view)
    assert sprite.image.dtype == np.uint8 and sprite.image.shape[2] == 4
    (x1, y1), (x2, y2) = sprite.plate_quad_px.min(axis=0), sprite.plate_quad_px.max(axis=0)
    assert x2 - x1 == pytest.approx(150, abs=1)
    assert x1 >= 0 and y1 >= 0 and x2 <= sprite.image.shape[1] and y2 <= sprite.image.shape[0]
    assert (sprite.image[int(y1) : int(y2), int(x1) : int(x2), 3] == 255).all()
