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


def test_style_labels_the_us_round_glyph_as_drawn_and_leaves_out_the_mixed_series(monkeypatch):
    import pytest

    from ovr_alpr.synth import platekit
    from ovr_alpr.synth.platekit import Style

    # the same draws under both labellings: the plates are the same, only the US labels' O differ
    printed, zero = Style(us_round_glyph="printed"), Style()
    us_o = 0
    for i in range(400):
        a = render_sample(np.random.default_rng([4, i]), style=zero)
        b = render_sample(np.random.default_rng([4, i]), style=printed)
        assert np.array_equal(a.image, b.image)
        if b.layout == "us":
            us_o += "O" in b.text
            assert a.text == b.text.replace("O", "0")
        else:
            assert a.text == b.text
    assert us_o > 0

    asked: list[str] = []
    real = platekit.text_for_layout
    monkeypatch.setattr(platekit, "text_for_layout", lambda lay, *a: asked.append(lay) or real(lay, *a))
    for style in (Style(us_mixed_series=False), Style()):
        asked.clear()
        for i in range(300):
            render_sample(np.random.default_rng([5, i]), style=style)
        mixed = set(asked) & set(platekit.US_MIXED_FORMATS)
        assert bool(mixed) == style.us_mixed_series
    assert "labelled as drawn" in printed.describe() and "without" in Style(us_mixed_series=False).describe()
    with pytest.raises(ValueError, match="us_round_glyph"):
        Style(us_round_glyph="oh")
    # as a checkpoint saves a run's options (strings), and as older runs saved them (no such keys)
    assert Style.of({"us_round_glyph": "printed", "us_mixed_series": "False"}) == Style("printed", False)
    assert Style.of({}) == Style()


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


def test_emblem_gaps_draw_a_coloured_picture_between_the_groups_and_stay_out_of_the_label():
    from ovr_alpr.synth.platekit import EMBLEM, _one_line, available_fonts

    fonts = available_fonts() or ("",)
    printed = "ABC" + EMBLEM + "123"
    assert label_of(printed) == "ABC123"
    sheet, ink = (240, 240, 240), (20, 20, 20)
    plain = _one_line("ABC 123", (300, 150), sheet, ink, np.random.default_rng(5), fonts[0])
    with_emblem = _one_line(printed, (300, 150), sheet, ink, np.random.default_rng(5), fonts[0])

    # a coloured blob where the plain plate has only grey sheet and dark ink
    def colourful(img):
        return int((img.max(axis=2).astype(int) - img.min(axis=2) > 60).sum())

    assert colourful(plain) == 0 and colourful(with_emblem) > 20
    w = with_emblem.shape[1]
    xs = np.nonzero(with_emblem.max(axis=2).astype(int) - with_emblem.min(axis=2) > 60)[1]
    assert 0.3 * w < xs.mean() < 0.7 * w  # between the two groups, not over the first or last character


def test_us_plates_with_emblems_and_mixed_series_are_rendered():
    from ovr_alpr.synth.platekit import EMBLEM

    rng = np.random.default_rng(0)
    mixed = [text_for_layout("XXX XXX", rng) for _ in range(200)]
    assert all(len(t) == 7 and t[3] == " " for t in mixed)
    assert {t[:3].isalpha() for t in mixed} == {True, False}  # letters and digits both drawn per slot
    assert EMBLEM not in "".join(label_of(t) for t in mixed)
