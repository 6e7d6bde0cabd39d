import numpy as np

from ovr_alpr.ocr.ppocr import PPOCRReader

# model classes: 0 blank, then these, then ' '
CHARS = ["中", "a", "b", "1", "A", "-", "8"]


def _probs(steps):
    """steps: list of (class index, p); the rest of each step's mass goes to blank."""
    n_cls = len(CHARS) + 2
    out = np.zeros((1, len(steps), n_cls), dtype=np.float32)
    for t, (idx, p) in enumerate(steps):
        out[0, t, idx] = p
        out[0, t, 0] += 1 - p
    return out


def test_ctc_collapse_case_merge_and_masking(fake_backend):
    # "a" (lower) and "A" (upper) are one class; CJK is masked out; '-' is read then dropped
    steps = [(2, 0.5), (5, 0.45), (2, 0.9), (0, 1.0), (1, 0.99), (6, 0.9), (4, 0.95), (0, 1.0), (4, 0.95)]
    backend = fake_backend(lambda b: [_probs(steps)], input_shape=(-1, 3, 48, -1), charset="\n".join(CHARS))
    reader = PPOCRReader(backend, alphabet="AB18")
    read = reader.read(np.zeros((20, 80, 3), np.uint8))
    # step0 a(.5)+A(.45)=.95 -> A ; step1 merges with step0 (same class) ; step2 a .9 -> same class, collapsed
    # step4 CJK masked (blank wins) ; '-' dropped ; '1' ; blank ; '1'
    assert read.text == "A11"
    assert len(read.char_confidences) == 3
    assert 0.9 < read.confidence <= 1.0


def test_batch_input_shape(fake_backend):
    seen = {}

    def run(batch):
        seen["shape"] = batch.shape
        return [np.repeat(_probs([(0, 1.0)] * 10), len(batch), axis=0)]

    reader = PPOCRReader(fake_backend(run, input_shape=(-1, 3, 48, -1), charset="\n".join(CHARS)))
    reads = reader.read_batch([np.zeros((30, 150, 3), np.uint8), np.zeros((40, 80, 3), np.uint8)])
    assert seen["shape"] == (2, 3, 48, 256)  # widest crop: 150/30*48 = 240 px, rounded up to a 64 px step
    assert [r.text for r in reads] == ["", ""]
