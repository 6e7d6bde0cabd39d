import numpy as np
import pytest

from ovr_alpr.ocr.ppocr import PPOCRReader

# model classes: 0 blank, then these, then ' '
CHARS = ["中", "a", "b", "1", "A", "-", "8"]
B, ONE, A, EIGHT = 3, 4, 5, 7


def _steps(steps, n_cls=len(CHARS) + 2):
    """steps: list of {class: p}; the rest of each step's mass goes to blank."""
    out = np.zeros((len(steps), n_cls), dtype=np.float32)
    for t, probs in enumerate(steps):
        for idx, p in probs.items():
            out[t, idx] = p
        out[t, 0] += 1 - sum(probs.values())
    return out


def _plate():
    import cv2

    img = np.full((48, 200, 3), 230, np.uint8)
    for i, ch in enumerate("AB18"):  # glyphs apart, so the character band is found with any OpenCV
        cv2.putText(img, ch, (10 + 30 * i, 38), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (10, 10, 10), 2)
    return img


def test_runner_up_characters_are_exposed(fake_backend):
    steps = [{B: 0.7, EIGHT: 0.2}, {}, {ONE: 0.9}, {}]
    backend = fake_backend(
        lambda b: [_steps(steps)[None]], input_shape=(-1, 3, 48, -1), charset="\n".join(CHARS)
    )
    read = PPOCRReader(backend, alphabet="AB18", variants=("full",)).read(np.zeros((20, 80, 3), np.uint8))
    assert read.text == "B1"
    assert read.char_alternatives[0][0] == ("8", pytest.approx(0.2))
    assert all(c != "B" for c, _ in read.char_alternatives[0])  # a character is not its own alternative
    assert read.char_alternatives[1] == ()  # nothing else seen there


def test_variants_are_read_in_one_batch_and_the_most_confident_wins(fake_backend):
    weak_long = _steps([{A: 0.6}, {}, {B: 0.6}, {}, {ONE: 0.6}, {}, {EIGHT: 0.6}])
    strong_long = _steps([{A: 0.99}, {}, {B: 0.99}, {}, {ONE: 0.99}, {}, {EIGHT: 0.99}])
    strong_short = _steps([{A: 1.0}, {}, {}, {}, {}, {}, {}])

    def run(batch):
        return [np.stack([weak_long, strong_long, strong_short][: len(batch)])]

    backend = fake_backend(run, input_shape=(-1, 3, 48, -1), charset="\n".join(CHARS))
    reader = PPOCRReader(backend, alphabet="AB18", variants=("full", "band_rows", "band"))
    read = reader.read(_plate())
    assert len(backend.calls) == 1 and len(backend.calls[0]) == 3  # one batch: full, rows, band
    # the one-character read is more confident but too short to be a plate
    assert read.text == "AB18" and read.confidence == pytest.approx(0.99)


def test_single_read_when_only_the_full_crop_is_asked(fake_backend):
    backend = fake_backend(
        lambda b: [np.repeat(_steps([{A: 0.9}])[None], len(b), 0)],
        input_shape=(-1, 3, 48, -1),
        charset="\n".join(CHARS),
    )
    reads = PPOCRReader(backend, variants=("full",)).read_batch([_plate(), _plate()])
    assert len(backend.calls[0]) == 2 and [r.text for r in reads] == ["A", "A"]


def test_unknown_variant_is_rejected(fake_backend):
    backend = fake_backend(lambda b: [], input_shape=(-1, 3, 48, -1), charset="\n".join(CHARS))
    with pytest.raises(ValueError, match="unknown OCR crop variants"):
        PPOCRReader(backend, variants=("full", "sideways"))
