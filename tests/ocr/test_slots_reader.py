"""Fixed-slot readers (`ovr`, `fast_plate_ocr`): decoding, plate configs, and real models where present."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ovr_alpr.errors import ConfigError, ModelError
from ovr_alpr.ocr import build_reader
from ovr_alpr.ocr.slots import FAST_PLATE_OCR_ALPHABET, FixedSlotReader, PlateConfig
from ovr_alpr.pipeline.config import AppConfig
from ovr_alpr.plate_text.text import PlateText
from ovr_alpr.synth.plates import random_plate_text, render_plate

SHARED = Path(__file__).resolve().parents[3] / "shared"

TEACHER = SHARED / "models" / "cct_xs_v1_global.onnx"
SHIPPED = Path(__file__).resolve().parents[2] / "src" / "ovr_alpr" / "assets" / "plate_reader.onnx"
A = FAST_PLATE_OCR_ALPHABET


def _probs(slots: list[dict[str, float]], n_slots: int = 5) -> np.ndarray:
    """One plate's [slots, classes] probabilities; unspecified mass goes to the pad class."""
    out = np.zeros((n_slots, len(A)), np.float32)
    for i in range(n_slots):
        spec = slots[i] if i < len(slots) else {}
        for ch, p in spec.items():
            out[i, A.index(ch)] = p
        out[i, A.index("_")] += 1.0 - sum(spec.values())
    return out


def _reader(fake_backend, plates, alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
    def run(batch):
        return [np.stack(plates[: len(batch)]).reshape(len(batch), -1)]

    backend = fake_backend(
        run, input_shape=(-1, 64, 128, 3), input_dtype=np.uint8, output_shapes=[(-1, 5 * len(A))], metadata={}
    )
    return FixedSlotReader(backend, alphabet=alphabet), backend


def test_decode_text_confidences_and_alternatives(fake_backend):
    plate = _probs([{"A": 0.9, "4": 0.08}, {"B": 0.6, "8": 0.3}, {"1": 0.99}, {}, {}])
    reader, backend = _reader(fake_backend, [plate])
    read = reader.read(np.zeros((30, 100, 3), np.uint8))
    assert read.text == "AB1"
    assert read.char_confidences == pytest.approx((0.9, 0.6, 0.99))
    assert read.confidence == pytest.approx(np.mean([0.9, 0.6, 0.99]))
    assert read.char_alternatives[0][0] == ("4", pytest.approx(0.08))
    assert read.char_alternatives[1][0] == ("8", pytest.approx(0.3))
    # the crop went in resized to the model's size, RGB uint8 NHWC
    assert backend.calls[0].shape == (1, 64, 128, 3) and backend.calls[0].dtype == np.uint8


def test_alphabet_masks_classes(fake_backend):
    # "O" is not allowed: its slot falls to the runner-up "0"
    plate = _probs([{"O": 0.7, "0": 0.25}, {"7": 0.9}])
    reader, _ = _reader(fake_backend, [plate], alphabet="0123456789")
    assert reader.read(np.zeros((20, 60, 3), np.uint8)).text == "07"


def test_pad_inside_a_plate_is_skipped_and_batches_keep_order(fake_backend):
    plates = [_probs([{"A": 0.9}, {}, {"B": 0.9}]), _probs([{"7": 0.95}])]
    reader, _ = _reader(fake_backend, plates)
    reads = reader.read_batch([np.zeros((20, 60, 3), np.uint8)] * 2)
    assert [r.text for r in reads] == ["AB", "7"]
    assert reader.read_batch([]) == []


def test_plate_config_sources(tmp_path, fake_backend):
    yaml_file = tmp_path / "plate.yaml"
    yaml_file.write_text(
        "max_plate_slots: 9\nalphabet: '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_'\npad_char: '_'\n"
        "img_height: 70\nimg_width: 140\nimage_color_mode: grayscale\nkeep_aspect_ratio: true\n"
        "padding_color: [114, 114, 114]\n"
    )
    cfg = PlateConfig.from_yaml(yaml_file)
    assert (cfg.slots, cfg.height, cfg.width, cfg.colour, cfg.keep_aspect) == (9, 70, 140, "grayscale", True)
    meta = {"plate_config": json.dumps({"max_plate_slots": 10, "img_height": 64, "img_width": 128})}
    backend = fake_backend([], input_shape=(-1, 64, 128, 3), metadata=meta, output_shapes=[])
    assert PlateConfig.for_backend(backend).slots == 10
    backend = fake_backend([], input_shape=(-1, 64, 128, 3), metadata={}, output_shapes=[(-1, 9, 37)])
    assert PlateConfig.for_backend(backend).slots == 9
    with pytest.raises(ModelError):
        PlateConfig.for_backend(fake_backend([], input_shape=(1, 3, 48, -1), metadata={}, output_shapes=[]))
    with pytest.raises(ConfigError):
        PlateConfig.from_yaml(tmp_path / "absent.yaml")


def test_grayscale_letterbox_input(tmp_path, fake_backend):
    cfg = PlateConfig(slots=5, height=32, width=64, colour="grayscale", keep_aspect=True)

    def run(batch):
        return [np.stack([_probs([{"Z": 0.9}])] * len(batch)).reshape(len(batch), -1)]

    backend = fake_backend(run, input_shape=(-1, 32, 64, 1), input_dtype=np.uint8)
    reader = FixedSlotReader(backend, plate_config=cfg)
    assert reader.read(np.full((10, 80, 3), 255, np.uint8)).text == "Z"
    assert backend.calls[0].shape == (1, 32, 64, 1)
    assert backend.calls[0][0, 0, 0, 0] == 114  # letterbox fill above the wide crop


def test_config_accepts_reader_types():
    assert AppConfig().ocr.type == "ovr"  # the shipped reader is the default
    assert AppConfig.model_validate({"ocr": {"type": "ppocr"}}).ocr.type == "ppocr"
    assert AppConfig.model_validate({"ocr": {"type": "ovr"}}).ocr.type == "ovr"
    cfg = AppConfig.model_validate(
        {"ocr": {"type": "fast_plate_ocr", "model": {"path": "m.onnx"}, "plate_config": "plate.yaml"}}
    )
    assert cfg.ocr.plate_config == "plate.yaml"
    with pytest.raises(ValueError, match="ocr"):
        AppConfig.model_validate({"ocr": {"type": "tesseract"}})


def test_fast_plate_ocr_type_needs_a_model_path():
    cfg = AppConfig.model_validate({"ocr": {"type": "fast_plate_ocr"}})
    with pytest.raises(ConfigError, match="no embedded model"):
        build_reader(cfg.ocr)


def _rendered(n: int, seed: int) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        style = ("eu", "us")[i % 2]
        text = random_plate_text(rng, style)
        out.append((text, render_plate(text, rng, style)))
    return out


@pytest.mark.skipif(not TEACHER.is_file(), reason=f"{TEACHER} is absent (third-party model in ../shared)")
def test_fast_plate_ocr_reads_rendered_plates_with_the_teacher():
    cfg = AppConfig.model_validate({"ocr": {"type": "fast_plate_ocr", "model": {"path": str(TEACHER)}}})
    reader = build_reader(cfg.ocr)
    assert reader.config.slots == 9 and reader.config.width == 128
    plates = _rendered(6, 1)
    reads = reader.read_batch([img for _, img in plates])
    right = sum(r.text == t for (t, _), r in zip(plates, reads, strict=True))
    assert right >= 5, [(t, r.text) for (t, _), r in zip(plates, reads, strict=True)]
    assert all(len(r.char_alternatives) == len(r.text) for r in reads)


@pytest.mark.skipif(not SHIPPED.is_file(), reason="the shipped reader is not built into this checkout")
def test_shipped_reader_reads_rendered_plates():
    reader = build_reader(AppConfig.model_validate({"ocr": {"type": "ovr", "second_opinion": None}}).ocr)
    assert reader.config.decoder == "ctc" and (reader.config.height, reader.config.width) == (64, 128)
    plates = _rendered(10, 2)
    reads = reader.read_batch([img for _, img in plates])
    right = sum(r.text == t for (t, _), r in zip(plates, reads, strict=True))
    assert right >= 9, [(t, r.text) for (t, _), r in zip(plates, reads, strict=True)]
    assert all(0.0 < r.confidence <= 1.0 for r in reads)


def test_context_reader_is_one_config_word_and_reads_rendered_plates():
    cfg = AppConfig.model_validate({"ocr": {"type": "ovr_context", "second_opinion": None}}).ocr
    reader = build_reader(cfg)
    assert Path(reader.backend.model_path).name == "plate_reader_context.onnx"
    assert cfg.box_variants == ["full", "tight"] and cfg.recheck_grid == 3  # the default reader's settings
    plates = _rendered(10, 2)
    reads = reader.read_batch([img for _, img in plates])
    right = sum(r.text == t for (t, _), r in zip(plates, reads, strict=True))
    assert right >= 9, [(t, r.text) for (t, _), r in zip(plates, reads, strict=True)]
    with_second = build_reader(AppConfig.model_validate({"ocr": {"type": "ovr_context"}}).ocr)
    assert Path(with_second.second.backend.model_path).name == "plate_reader_blur.onnx"


def test_ctc_decoder_collapses_repeats_and_blanks(fake_backend):
    # 6 time steps: A A _ A 7 7  ->  "AA7" (a blank separates the two A's)
    steps = [{"A": 0.9}, {"A": 0.8}, {}, {"A": 0.7, "4": 0.2}, {"7": 0.95}, {"7": 0.6}]
    probs = _probs(steps, n_slots=6)
    cfg = PlateConfig(slots=6, decoder="ctc")
    backend = fake_backend(lambda b: [probs[None]], input_shape=(-1, 64, 128, 3), input_dtype=np.uint8)
    read = FixedSlotReader(backend, plate_config=cfg).read(np.zeros((20, 60, 3), np.uint8))
    assert read.text == "AA7"
    assert read.char_confidences == pytest.approx((0.9, 0.7, 0.95))
    assert read.char_alternatives[1][0] == ("4", pytest.approx(0.2))


def test_box_variants_read_in_one_batch_and_keep_the_most_confident(fake_backend):
    # the model sees full, tight, loose in that order; the tight read is the most confident
    reads = [_probs([{"A": 0.6}, {"1": 0.6}]), _probs([{"A": 0.95}, {"7": 0.9}]), _probs([{"4": 0.5}])]
    backend = fake_backend(
        lambda b: [np.stack(reads[: len(b)]).reshape(len(b), -1)],
        input_shape=(-1, 64, 128, 3),
        input_dtype=np.uint8,
        output_shapes=[(-1, 5 * len(A))],
        metadata={},
    )
    reader = FixedSlotReader(backend, variants=("full", "tight", "loose"))
    read = reader.read(np.zeros((50, 100, 3), np.uint8))
    assert read.text == "A7"
    assert backend.calls[0].shape == (3, 64, 128, 3)
    # its confidence says the variants disagree: "A" read by two of three, "7" by one of three
    assert read.char_confidences == pytest.approx(((0.6 + 0.95) / 3, 0.9 / 3))
    with pytest.raises(ValueError, match="pick from full, tight, loose"):
        FixedSlotReader(backend, variants=("band",))


def test_agreed_read_keeps_the_confidence_of_variants_that_agree_and_lowers_the_rest():
    from ovr_alpr.ocr.slots import agreed_read

    a = PlateText("AB12", 0.9, (0.9, 0.9, 0.9, 0.9), ((("8", 0.05),),) * 4)
    same = PlateText("AB12", 0.8, (0.7, 0.9, 0.7, 0.9))
    assert agreed_read([a, same]).char_confidences == pytest.approx((0.8, 0.9, 0.8, 0.9))
    one_off = agreed_read([a, PlateText("A812", 0.85, (0.9, 0.6, 0.9, 1.0))])
    assert one_off.text == "AB12" and one_off.char_alternatives == a.char_alternatives
    assert one_off.char_confidences == pytest.approx((0.9, 0.45, 0.9, 0.95))
    longer = agreed_read([a, PlateText("AB123", 0.5, (0.5,) * 5)])  # another length agrees nowhere
    assert longer.char_confidences == pytest.approx((0.45,) * 4) and longer.confidence == pytest.approx(0.45)
    assert agreed_read([a]) is a  # one variant: as read


def test_box_variant_geometry():
    from ovr_alpr.ocr.slots import box_variant

    crop = np.arange(50 * 100 * 3, dtype=np.uint32).reshape(50, 100, 3).astype(np.uint8)
    assert box_variant(crop, "full") is crop
    tight = box_variant(crop, "tight")
    assert tight.shape == (42, 94, 3) and np.array_equal(tight, crop[4:46, 3:97])
    loose = box_variant(crop, "loose")
    assert loose.shape == (58, 106, 3) and np.array_equal(loose[4:54, 3:103], crop)
    assert box_variant(np.zeros((3, 5, 3), np.uint8), "tight").shape == (3, 5, 3)  # too small to cut: as cut


def test_box_variants_come_from_the_config():
    cfg = AppConfig.model_validate({"ocr": {"type": "ovr", "box_variants": ["full", "tight"]}}).ocr
    assert cfg.box_variants == ["full", "tight"]
    with pytest.raises(Exception, match="box_variants"):
        AppConfig.model_validate({"ocr": {"type": "ovr", "box_variants": ["wide"]}})


def test_disagreeing_variants_are_read_again_on_a_grid_and_the_majority_wins(fake_backend):
    """full and tight disagree, so the crop is read again on the 3 x 3 grid of cuts (the 7 not yet read,
    one batch) and the text most of the 9 reads agree on wins, though tight alone was the most confident."""
    from ovr_alpr.ocr.slots import grid_cuts

    marked = []  # every image the model saw: its top-left pixel marks how far it was cut in

    def run(batch):
        out = []
        for image in batch:
            marked.append(int(image[0, 0, 0]))
            out.append(_probs([{"A": 0.99}, {"7": 0.99}]) if image[0, 0, 0] == 1 else _probs([{"A": 0.8}]))
        return [np.stack(out).reshape(len(batch), -1)]

    backend = fake_backend(
        run, input_shape=(-1, 64, 128, 3), input_dtype=np.uint8, output_shapes=[(-1, 5 * len(A))], metadata={}
    )
    # a crop whose innermost region (reached only by the tightest cut) has R = 1, the rest R = 0
    crop = np.zeros((100, 100, 3), np.uint8)
    crop[8:92, 3:97, 2] = 1  # BGR: red is channel 2
    reader = FixedSlotReader(backend, variants=("full", "tight"), recheck_grid=3)
    read = reader.read(crop)
    assert [c.shape[0] for c in backend.calls] == [2, 7]
    assert marked[:2] == [0, 1] and marked[2:].count(1) == 0  # the grid did not read tight again
    assert read.text == "A"  # 8 of 9 reads say "A"; the single "A7" (tight) loses
    assert read.char_confidences == pytest.approx((0.8 * 8 / 9,))  # "A7" has another length: no vote
    # reads that agree are not read again
    agree = FixedSlotReader(backend, variants=("full", "tight"), recheck_grid=3)
    calls = len(backend.calls)
    assert agree.read(np.zeros((100, 100, 3), np.uint8)).text == "A" and len(backend.calls) == calls + 1
    assert grid_cuts(1) == [] and len(grid_cuts(3)) == 9 and grid_cuts(2)[-1] == pytest.approx((0.03, 0.08))


def test_voted_read_breaks_ties_by_confidence():
    from ovr_alpr.ocr.slots import voted_read

    a, b = PlateText("AB12", 0.7, (0.7,) * 4), PlateText("A812", 0.9, (0.9,) * 4)
    assert voted_read([a, b]).text == "A812"  # one each: the more confident
    assert voted_read([a, b, PlateText("AB12", 0.6, (0.6,) * 4)]).text == "AB12"
    empty = PlateText("", 0.0)
    assert voted_read([empty, empty, a]).text == "AB12"  # reading nothing is no vote
    assert voted_read([empty, empty]).text == ""
    cfg = AppConfig.model_validate({"ocr": {"type": "ovr"}}).ocr
    assert cfg.recheck_grid == 3
    with pytest.raises(Exception, match="recheck_grid"):
        AppConfig.model_validate({"ocr": {"type": "ovr", "recheck_grid": -1}})
