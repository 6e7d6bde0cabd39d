"""The detector's YOLO dataset: labels from rendered boxes, photos linked not copied, manifest and counts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from ovr_alpr.train.detector_data import build_dataset, read_manifest, scene_label_lines
from ovr_alpr.train.eval_guard import find_leaks


def test_label_lines_are_normalised_centre_and_size():
    lines = scene_label_lines(np.array([[100, 50, 300, 150]]), (400, 200))
    assert lines == ["0 0.500000 0.500000 0.500000 0.500000"]


def _fake_detect_set(root: Path) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", 3), ("val", 1)):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(
                str(root / "images" / split / f"olpr_{i}.jpg"), rng.integers(0, 255, (60, 80, 3), np.uint8)
            )
            (root / "labels" / split / f"olpr_{i}.txt").write_text("0 0.5 0.5 0.2 0.1\n")


def test_build_dataset_links_photos_renders_scenes_and_writes_manifest(tmp_path):
    detect = tmp_path / "detect"
    _fake_detect_set(detect)
    out = tmp_path / "data"
    data_yaml, counts = build_dataset(out, detect, synth_train=2, synth_val=1, seed=0, progress=False)
    assert f"path: {out.resolve()}" in data_yaml.read_text()
    linked = out / "images" / "train" / "olpr_0.jpg"
    assert linked.is_symlink() and linked.resolve() == (detect / "images" / "train" / "olpr_0.jpg").resolve()
    assert counts.images == {"train": {"olpr": 3, "synth": 2}, "val": {"olpr": 1, "synth": 1}}
    scene_label = (out / "labels" / "train" / "synth_0000000.txt").read_text().splitlines()
    assert scene_label and all(line.startswith("0 ") and len(line.split()) == 5 for line in scene_label)
    manifest = read_manifest(out / "manifest.csv")
    assert len(manifest) == 7 and all(Path(f).is_file() for f, _, _ in manifest)
    assert json.loads((out / "counts.json").read_text())["images"] == counts.images

    first = (out / "images" / "train" / "synth_0000001.jpg").read_bytes()
    build_dataset(out, detect, synth_train=2, synth_val=1, seed=0, progress=False)  # a rebuild keeps them
    assert (out / "images" / "train" / "synth_0000001.jpg").read_bytes() == first


def test_a_built_dataset_is_reused_where_it_was_moved(tmp_path):
    import shutil

    import pytest

    from ovr_alpr.errors import ConfigError
    from ovr_alpr.train.detector import use_dataset

    built = tmp_path / "built"
    build_dataset(built, None, synth_train=1, synth_val=1, seed=0, progress=False)
    moved = tmp_path / "elsewhere" / "data"
    shutil.copytree(built, moved)
    data_yaml = use_dataset(moved)
    assert f"path: {moved.resolve()}" in data_yaml.read_text()  # no longer the folder it was built in
    (moved / "counts.json").unlink()
    with pytest.raises(ConfigError, match=r"missing counts\.json"):
        use_dataset(moved)


def test_a_label_takes_the_reference_box_it_overlaps_one_to_one():
    from ovr_alpr.train.detector_data import match_reference

    labels = np.array([[0, 0, 100, 50], [200, 0, 300, 50], [400, 0, 500, 50]], np.float64)
    reference = np.array(
        [
            [205, 5, 295, 45],  # inside label 1
            [5, 6, 95, 44],  # inside label 0
            [0, 0, 100, 50],  # label 0 exactly: the better overlap, so label 0 takes this one
            [600, 0, 700, 50],  # overlaps nothing
        ],
        np.float64,
    )
    assert match_reference(labels, reference).tolist() == [2, 0, -1]
    assert match_reference(labels, np.empty((0, 4))).tolist() == [-1, -1, -1]
    # a reference box over only a sliver of the label does not count
    assert match_reference(labels[:1], np.array([[0, 0, 30, 50]], np.float64)).tolist() == [-1]


def test_scale_boxes_keeps_the_centre():
    from ovr_alpr.train.detector_data import scale_boxes

    scaled = scale_boxes(np.array([[10, 20, 30, 60]]), 0.5, 2.0)
    assert np.allclose(scaled, [[15, 0, 25, 80]])


def test_loose_labels_are_redrawn_tight_as_the_reference_draws_them(tmp_path):
    """Matched labels take the reference box; an unmatched one shrinks by the matched ones' median ratio."""
    detect = tmp_path / "detect"
    _fake_detect_set(detect)  # every image 80 x 60, label box (32, 27)-(48, 33): 16 x 6 px
    # one more image whose plate the reference does not find
    cv2.imwrite(str(detect / "images" / "train" / "olpr_9.jpg"), np.zeros((60, 80, 3), np.uint8))
    (detect / "labels" / "train" / "olpr_9.txt").write_text("0 0.25 0.25 0.2 0.1\n")

    def reference(image: np.ndarray) -> np.ndarray:
        if not image.any():  # the black image: nothing found
            return np.empty((0, 4))
        # tight box: 16/1.25 = 12.8 px wide, 6/1.5 = 4 px high, same centre (40, 30); and a false alarm
        return np.array([[33.6, 28.0, 46.4, 32.0], [0, 0, 5, 5]])

    out = tmp_path / "data"
    _, counts = build_dataset(out, detect, 0, 0, seed=0, progress=False, box_reference=reference)
    summary = json.loads((out / "counts.json").read_text())["box_alignment"]
    assert summary == {"matched": 4, "scaled": 1, "width_ratio": 1.25, "height_ratio": 1.5}
    cx, cy, w, h = map(float, (out / "labels" / "train" / "olpr_0.txt").read_text().split()[1:])
    assert (cx, cy) == (0.5, 0.5) and np.isclose(w * 80, 12.8) and np.isclose(h * 60, 4.0)
    cx, cy, w, h = map(float, (out / "labels" / "train" / "olpr_9.txt").read_text().split()[1:])
    assert (cx, cy) == (0.25, 0.25) and np.isclose(w * 80, 16 / 1.25) and np.isclose(h * 60, 6 / 1.5)
    assert counts.plates["train"]["olpr"] == 4  # the false alarm adds no plate
    # the shared set's own labels are untouched
    assert (detect / "labels" / "train" / "olpr_0.txt").read_text() == "0 0.5 0.5 0.2 0.1\n"


def test_the_card_says_how_the_boxes_were_aligned(tmp_path):
    from ovr_alpr.train.detector import DetectorTrainConfig, write_card

    counts = {
        "images": {"train": {"olpr": 3}},
        "plates": {"train": {"olpr": 3}},
        "box_alignment": {"matched": 2, "scaled": 1, "width_ratio": 1.09, "height_ratio": 1.27},
    }
    cfg = DetectorTrainConfig(out_dir=tmp_path, weights=tmp_path / "w.pt", imgsz=512)
    card = write_card(tmp_path / "c.md", cfg, counts, {}, 1, 60.0, tmp_path / "plate_nano512.onnx")
    text = card.read_text()
    assert "2 of them took the embedded platedet's box" in text
    assert "1.090 in width and 1.270 in height" in text
    assert "input 1x3x512x512" in text
    assert "On-screen text" not in text
    osd_card = write_card(
        tmp_path / "o.md", cfg, {**counts, "osd_share": 0.5}, {}, 1, 60.0, tmp_path / "x.onnx"
    )
    assert "50% of the rendered scenes carry a camera's burnt-in text" in osd_card.read_text()
    del counts["box_alignment"]
    assert (
        "used as drawn"
        in write_card(tmp_path / "d.md", cfg, counts, {}, 1, 60.0, tmp_path / "x.onnx").read_text()
    )


def test_the_box_reference_is_platedet_whatever_the_default_detector(monkeypatch):
    from ovr_alpr.detect import plates
    from ovr_alpr.train import detector

    built = []

    def build(cfg, *args, **kwargs):
        built.append(cfg)
        return lambda image: image

    monkeypatch.setattr(plates, "build_plate_detector", build)
    detector.reference_boxes()
    assert built[0].type == "platedet" and built[0].model.path is None


def test_scenes_with_on_screen_text_keep_their_plates_and_the_share_is_recorded(tmp_path):
    plain_dir, osd_dir = tmp_path / "plain", tmp_path / "osd"
    build_dataset(plain_dir, None, synth_train=3, synth_val=0, seed=0, progress=False)
    build_dataset(osd_dir, None, synth_train=3, synth_val=0, seed=0, progress=False, osd=1.0)
    assert "osd_share" not in json.loads((plain_dir / "counts.json").read_text())
    assert json.loads((osd_dir / "counts.json").read_text())["osd_share"] == 1.0
    differ = 0
    for i in range(3):
        name = f"synth_{i:07d}"
        a = (plain_dir / "labels" / "train" / f"{name}.txt").read_text()
        assert a == (osd_dir / "labels" / "train" / f"{name}.txt").read_text()  # text adds no box
        differ += (plain_dir / "images" / "train" / f"{name}.jpg").read_bytes() != (
            osd_dir / "images" / "train" / f"{name}.jpg"
        ).read_bytes()
    assert differ >= 2


def test_a_rendered_scene_that_hashes_like_an_evaluation_image_is_drawn_again(tmp_path):
    first = tmp_path / "first"
    build_dataset(first, None, synth_train=2, synth_val=0, seed=0, progress=False)
    evals = tmp_path / "openalpr" / "us"
    evals.mkdir(parents=True)
    shutil.copyfile(first / "images" / "train" / "synth_0000000.jpg", evals / "car1.jpg")  # as if it leaked
    again = tmp_path / "again"
    build_dataset(again, None, synth_train=2, synth_val=0, seed=0, progress=False, eval_dirs=[evals.parent])
    assert json.loads((again / "counts.json").read_text())["scenes_redrawn"] == 1
    redrawn = (again / "images" / "train" / "synth_0000000.jpg").read_bytes()
    assert redrawn != (first / "images" / "train" / "synth_0000000.jpg").read_bytes()
    assert (again / "images" / "train" / "synth_0000001.jpg").read_bytes() == (
        first / "images" / "train" / "synth_0000001.jpg"
    ).read_bytes()
    assert not find_leaks(read_manifest(again / "manifest.csv"), [evals.parent])


def test_kit_scenes_carry_plates_of_the_reader_renderer_and_are_counted(tmp_path):
    from ovr_alpr.train.detector_data import kit_plates

    plates = kit_plates(0, n=6)
    assert len(plates) == 6 and all(p.ndim == 3 and p.shape[1] > p.shape[0] // 2 for p in plates)
    out = tmp_path / "kit"
    build_dataset(
        out, None, synth_train=1, synth_val=0, seed=0, progress=False, kit_scenes_train=3, kit_scenes_val=1
    )
    kit = sorted((out / "images" / "train").glob("synthk_*.jpg"))
    assert [p.name for p in kit] == [f"synthk_{4_000_000 + i:07d}.jpg" for i in range(3)]
    assert len(list((out / "images" / "val").glob("synthk_*.jpg"))) == 1
    counts = json.loads((out / "counts.json").read_text())
    assert "synth_kit" in json.dumps(counts)
    rows = read_manifest(out / "manifest.csv")
    assert len(rows) == 5
    # every kit scene has its plates labelled
    for p in kit:
        assert (out / "labels" / "train" / f"{p.stem}.txt").read_text().strip()


def test_ultralytics_args_take_the_learning_rate_only_when_given(tmp_path):
    from ovr_alpr.train.detector import DetectorTrainConfig, ultralytics_args

    base = DetectorTrainConfig(out_dir=tmp_path, weights=tmp_path / "w.pt", hours=0.5, imgsz=512)
    args = ultralytics_args(base, tmp_path / "data.yaml", tmp_path)
    assert "lr0" not in args and "optimizer" not in args  # Ultralytics' own choice
    assert args["time"] == 0.5 and args["imgsz"] == 512 and args["data"] == str(tmp_path / "data.yaml")
    slow = DetectorTrainConfig(out_dir=tmp_path, weights=tmp_path / "w.pt", lr0=5e-4)
    args = ultralytics_args(slow, tmp_path / "data.yaml", tmp_path)
    assert args["optimizer"] == "AdamW" and args["lr0"] == 5e-4 and "time" not in args


def test_kit_plates_never_show_an_evaluation_plate_text(tmp_path, monkeypatch):
    """A kit plate whose text is an evaluation text is drawn again, and `build_dataset` bans the texts of
    every evaluation folder it is given."""
    from ovr_alpr.synth.platekit import clean_plate
    from ovr_alpr.train import detector_data

    _, first, _ = clean_plate(np.random.default_rng([5, 7]))
    _, again, _ = clean_plate(np.random.default_rng([5, 7]), reject={first}.__contains__)
    assert again and again != first
    evals = tmp_path / "eval"
    evals.mkdir()
    cv2.imwrite(str(evals / "a.jpg"), np.zeros((40, 80, 3), np.uint8))
    (evals / "a.txt").write_text("a.jpg\t1\t1\t20\t10\tAB 123\n")
    seen = []
    real = detector_data.kit_plates

    def spy(seed, n=detector_data.KIT_PLATES, banned=None):
        seen.append(banned)
        return real(seed, 4, banned)

    monkeypatch.setattr(detector_data, "kit_plates", spy)
    detector_data.build_dataset(
        tmp_path / "out",
        None,
        synth_train=0,
        synth_val=0,
        seed=0,
        progress=False,
        kit_scenes_train=1,
        eval_dirs=[evals],
    )
    assert seen == [{"AB123"}]


def test_box_heights_show_the_plates_cut_short_that_map50_counts_as_found():
    from ovr_alpr.train.detector import box_heights

    labels = [np.array([[i * 200.0, 0.0, i * 200.0 + 100, 20.0]]) for i in range(10)]
    found = [lab.copy() for lab in labels]
    found[0][0, 3] = 13.0  # 65 % of the plate's height: IoU 0.65, found at IoU 0.5
    found[1] = np.zeros((0, 4))  # missed: no ratio
    found[2][0] += [60, 0, 60, 0]  # IoU 0.25: not this label's box
    fit = box_heights(found, labels)
    assert fit["box_height_matched"] == 8
    assert fit["box_height_median"] == 1.0
    assert fit["box_height_p10"] < 0.9
    assert box_heights([np.zeros((0, 4))], labels[:1]) == {"box_height_matched": 0}


def test_val_box_heights_reads_the_split_labels_in_pixels(tmp_path, monkeypatch):
    from ovr_alpr.detect import plates
    from ovr_alpr.train import detector

    (tmp_path / "images" / "val").mkdir(parents=True)
    (tmp_path / "labels" / "val").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "images" / "val" / "a.jpg"), np.zeros((100, 200, 3), np.uint8))
    (tmp_path / "labels" / "val" / "a.txt").write_text("0 0.5 0.5 0.5 0.2\n")  # x 50-150, y 40-60
    built = []

    class Found:
        xyxy = np.array([[50.0, 42.0, 150.0, 58.0]])  # 16 of the label's 20 px

    def build(cfg, *args, **kwargs):
        built.append(cfg)
        return lambda image: Found()

    monkeypatch.setattr(plates, "build_plate_detector", build)
    fit = detector.val_box_heights(tmp_path, tmp_path / "m.onnx", 512)
    assert fit == {"box_height_median": 0.8, "box_height_p10": 0.8, "box_height_matched": 1}
    assert built[0].model.path == str(tmp_path / "m.onnx") and built[0].model.input_size == 512
