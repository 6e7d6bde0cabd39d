"""The training plate renderer: every layout renders, labels are plate texts, hard cases appear on request."""

from __future__ import annotations

import numpy as np

from ovr_alpr.synth.platekit import label_of, render_sample, text_for_layout


def test_samples_are_crops_with_plate_labels():
    rng = np.random.default_rng(0)
    layouts = set()
    for _ in range(120):
        s = render_sample(rng)
        layouts.add(s.layout)
        assert s.image.dtype == np.uint8 and s.image.ndim == 3 and min(s.image.shape[:2]) >= 4
        assert 2 <= len(s.text) <= 10 and s.text == label_of(s.text)
    assert {"eu", "us", "moto", "square", "br-old"} <= layouts


def test_us_plates_label_the_round_glyph_zero_and_eu_plates_keep_the_letter_o():
    rng = np.random.default_rng(4)
    letters = {"us": "", "eu": ""}
    for _ in range(400):
        s = render_sample(rng)
        if s.layout in letters:
            letters[s.layout] += s.text
    assert "O" not in letters["us"] and "0" in letters["us"]
    assert "O" in letters["eu"]


def test_hard_characters_only_when_asked():
    rng = np.random.default_rng(1)
    hard = "".join(text_for_layout("LLL999", rng, hard=True) for _ in range(300))
    easy = "".join(text_for_layout("LLL999", rng, hard=False) for _ in range(300))
    assert set("IOQ") <= set(hard) and not set("IOQ") & set(easy)
    assert "0" in hard


def test_same_seed_same_sample_and_rejected_labels_are_redrawn():
    a = render_sample(np.random.default_rng([3, 7]))
    b = render_sample(np.random.default_rng([3, 7]))
    assert a.text == b.text and np.array_equal(a.image, b.image)
    c = render_sample(np.random.default_rng([3, 7]), reject=lambda t: t == a.text)
    assert c.text != a.text


def test_renders_without_system_fonts():
    s = render_sample(np.random.default_rng(2), fonts=())
    assert s.text and s.image.size
