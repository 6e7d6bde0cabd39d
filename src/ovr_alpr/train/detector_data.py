"""The plate detector's training set: the shared labelled photos plus rendered scenes, as one YOLO dataset.

Layout written under `out_dir` (Ultralytics reads it through `data.yaml`):

    images/{train,val}/olpr_<n>.jpg   symbolic links to `shared/data/train/detect/images/...` (never copied)
    labels/{train,val}/olpr_<n>.txt   copies of its labels (`0 cx cy w h`, normalised)
    images/{train,val}/synth_<n>.jpg  rendered scenes (`synth.scenes`), labels beside them likewise
    images/{train,val}/synthc_<n>.jpg rendered scenes with real plate crops (`shared/data/train/ocr`)
    data.yaml, manifest.csv           one row per image: split, file, source, licence, plates, phash, ahash

Rendered scenes may carry a camera's on-screen text (`osd`: date and time, camera names) drawn over them, with
no box: it teaches the detector that burnt-in timestamps are not plates.

Ultralytics writes its label cache beside `labels/`, so it lands here, not in the shared folder. Scenes are
rendered from `(seed, index)`, so a rebuild skips images already written and gives the same set.

Box alignment: the shared photos' boxes are drawn loose (around the plate's frame: 1.09x the plate's width and
1.27x its height, measured against the embedded platedet on those photos), while the evaluation labels, the
rendered scenes and the reader's crop margins all take the plate's own edges. A detector trained on the loose
boxes learns them: on the US evaluation photos its boxes were 1.11 x 1.29 the labels and half its small
plates fell under IoU 0.5. With a `box_reference` (a detector: image -> xyxy boxes), each photo's label box
that a reference box overlaps (IoU >= `ALIGN_MIN_IOU`, one to one) takes the reference's box, and the
others are shrunk about their centres by the median label/reference ratio of the matched ones.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..detect.ops import iou_matrix
from ..errors import ConfigError
from ..labels import yolo_rows, yolo_xyxy
from ..synth.scenes import render_scene
from .eval_guard import HashIndex, ahash, eval_images, image_hashes, phash

log = logging.getLogger(__name__)

#: Licence of each source, as named in the model card.
SOURCES = {
    "olpr": (
        "faisalthaheem/open-lpr-dataset-plate-detection @ 7251620 (via shared/data/train/detect)",
        "Apache-2.0",
    ),
    "synth": ("rendered by ovr_alpr.synth.scenes (this project)", "AGPL-3.0-or-later"),
    "synth_crops": (
        "rendered scenes with real plate photos mounted (shared/data/train/ocr crops: openalpr/benchmarks "
        "seg_and_ocr US @ 9790ed2, openalpr/train-detector BR @ 1bd54b4, sirius-ai/LPRNet_Pytorch CN)",
        "AGPL-3.0 (openalpr crops) / Apache-2.0 (LPRNet crops)",
    ),
    "synth_kit": (
        "rendered scenes with plates of ovr_alpr.synth.platekit mounted (this project; Debian fonts)",
        "AGPL-3.0-or-later",
    ),
}
#: Plate-crop sources of `shared/data/train/ocr` mounted in scenes (all cut at the plate's edges).
CROP_SOURCES = ("bench_us", "td_br", "lprnet_cn")
MANIFEST_FIELDS = ("split", "file", "source", "licence", "plates", "phash", "ahash")
#: Draws of one rendered scene at most while its image hashes match an evaluation image's.
MAX_SCENE_DRAWS = 20
#: A label box takes a reference box overlapping it at least this much (loose vs tight: IoU ~0.7).
ALIGN_MIN_IOU = 0.4

BoxReference = Callable[[np.ndarray], np.ndarray]


@dataclass
class DatasetCounts:
    """Images and plates per split and source."""

    images: dict[str, dict[str, int]] = field(default_factory=dict)
    plates: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, split: str, source: str, plates: int) -> None:
        self.images.setdefault(split, {}).setdefault(source, 0)
        self.plates.setdefault(split, {}).setdefault(source, 0)
        self.images[split][source] += 1
        self.plates[split][source] += plates

    def to_dict(self) -> dict:
        return {"images": self.images, "plates": self.plates}


def real_images(detect_dir: str | Path) -> list[tuple[str, Path, Path]]:
    """(split, image, label) of every labelled photo in the shared detection set (`detect/`)."""
    root = Path(detect_dir)
    if not (root / "images").is_dir():
        raise ConfigError(
            f"no detection training set at {root} (expected images/ and labels/)",
            "pass --data pointing at shared/data/train/detect",
        )
    found = []
    for split in ("train", "val"):
        for image in sorted((root / "images" / split).glob("*.jpg")):
            label = root / "labels" / split / f"{image.stem}.txt"
            if label.is_file():
                found.append((split, image, label))
    return found


def match_reference(labels: np.ndarray, reference: np.ndarray, min_iou: float = ALIGN_MIN_IOU) -> np.ndarray:
    """Index of the reference box each label takes (-1 = none): one to one, highest IoU first."""
    taken = np.full(len(labels), -1, dtype=np.int64)
    if not len(labels) or not len(reference):
        return taken
    iou = iou_matrix(np.asarray(labels, np.float32), np.asarray(reference, np.float32))
    for flat in np.argsort(-iou, axis=None):
        i, j = np.unravel_index(flat, iou.shape)
        if iou[i, j] < min_iou:
            break
        if taken[i] < 0 and j not in taken:
            taken[i] = j
    return taken


def scale_boxes(boxes: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """`boxes` (xyxy) scaled about their centres by `sx` in width and `sy` in height."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    hw, hh = (b[:, 2] - b[:, 0]) * sx / 2, (b[:, 3] - b[:, 1]) * sy / 2
    return np.stack([cx - hw, cy - hh, cx + hw, cy + hh], axis=1)


@dataclass
class AlignedBoxes:
    """The photos' label boxes redrawn the reference's way (module docstring), and how.

    Attributes:
        lines: per label file (its path), the aligned boxes as YOLO label lines (`scene_label_lines`).
        matched: label boxes that took a reference box.
        scaled: label boxes no reference box overlapped, shrunk by the matched ones' median ratio.
        width_ratio / height_ratio: that median label/reference ratio (1.0 when nothing matched).
    """

    lines: dict[Path, list[str]]
    matched: int
    scaled: int
    width_ratio: float
    height_ratio: float

    def summary(self) -> dict:
        return {
            "matched": self.matched,
            "scaled": self.scaled,
            "width_ratio": round(self.width_ratio, 4),
            "height_ratio": round(self.height_ratio, 4),
        }


def align_boxes(
    photos: list[tuple[str, Path, Path]], reference: BoxReference, progress: bool = True
) -> AlignedBoxes:
    """Each photo's label boxes redrawn as `reference` draws them (see the module docstring)."""
    found: dict[Path, tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]] = {}
    ratios_w: list[float] = []
    ratios_h: list[float] = []
    for _split, image_path, label in tqdm(photos, desc="aligning boxes", disable=not progress):
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if image is None:
            raise ConfigError(f"unreadable training image {image_path}", "check the shared detection set")
        size = (image.shape[1], image.shape[0])
        labels = yolo_xyxy(yolo_rows(label), *size).astype(np.float64)
        ref = np.asarray(reference(image), np.float64).reshape(-1, 4)
        taken = match_reference(labels, ref)
        for i, j in enumerate(taken):
            if j >= 0:
                ratios_w.append((labels[i, 2] - labels[i, 0]) / max(ref[j, 2] - ref[j, 0], 1e-6))
                ratios_h.append((labels[i, 3] - labels[i, 1]) / max(ref[j, 3] - ref[j, 1], 1e-6))
        found[label] = (labels, ref, taken, size)
    rw = float(np.median(ratios_w)) if ratios_w else 1.0
    rh = float(np.median(ratios_h)) if ratios_h else 1.0
    out: dict[Path, list[str]] = {}
    matched = scaled = 0
    for label, (labels, ref, taken, size) in found.items():
        boxes = scale_boxes(labels, 1 / rw, 1 / rh)
        hit = taken >= 0
        boxes[hit] = ref[taken[hit]]
        matched += int(hit.sum())
        scaled += int((~hit).sum())
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, size[0])
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, size[1])
        out[label] = scene_label_lines(boxes, size)
    return AlignedBoxes(out, matched, scaled, rw, rh)


def scene_label_lines(boxes_xyxy: np.ndarray, size: tuple[int, int]) -> list[str]:
    """YOLO label lines (`0 cx cy w h`, normalised) of plate boxes in a `size` = (width, height) image."""
    width, height = size
    lines = []
    for x1, y1, x2, y2 in np.asarray(boxes_xyxy, np.float64).reshape(-1, 4):
        cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
        lines.append(f"0 {cx:.6f} {cy:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")
    return lines


def load_plate_crops(ocr_dir: str | Path) -> list[np.ndarray]:
    """The plate photos of `shared/data/train/ocr` (`CROP_SOURCES`), BGR."""
    crops = []
    for path in sorted(Path(ocr_dir, "images").glob("*.jpg")):
        if path.stem.rsplit("_", 1)[0] in CROP_SOURCES:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None and min(image.shape[:2]) >= 12:
                crops.append(image)
    return crops


#: Plates rendered by `synth.platekit` for the kit scenes (mounted at random on their vehicles).
KIT_PLATES = 400


def kit_plates(seed: int, n: int = KIT_PLATES, banned: set[str] | None = None) -> list[np.ndarray]:
    """`n` plates of the reader's renderer (`synth.platekit.clean_plate`), BGR, from `[seed, 7]`; a plate
    whose text is in `banned` (normalised evaluation plate texts) is drawn again."""
    from ..synth.platekit import clean_plate
    from .manifest import normalise

    rng = np.random.default_rng([seed, 7])
    reject = (lambda text: normalise(text) in banned) if banned else None
    return [clean_plate(rng, reject=reject)[0] for _ in range(n)]


def build_dataset(
    out_dir: str | Path,
    detect_dir: str | Path | None,
    synth_train: int,
    synth_val: int,
    seed: int = 0,
    progress: bool = True,
    crop_dir: str | Path | None = None,
    crop_scenes_train: int = 0,
    crop_scenes_val: int = 0,
    box_reference: BoxReference | None = None,
    osd: float = 0.0,
    eval_dirs: list[Path] | None = None,
    kit_scenes_train: int = 0,
    kit_scenes_val: int = 0,
) -> tuple[Path, DatasetCounts]:
    """Writes the dataset (see the module docstring); returns its `data.yaml` and the counts.

    Args:
        out_dir: folder to write (created; images already there are kept).
        detect_dir: the shared YOLO detection set, or None for rendered scenes only.
        synth_train: rendered scenes in the train split.
        synth_val: rendered scenes in the val split.
        seed: seed of the rendered scenes.
        crop_dir: `shared/data/train/ocr`: real plate photos to mount in `crop_scenes_*` more scenes.
        box_reference: a detector (BGR image -> xyxy boxes) whose way of drawing boxes the photos' labels
            take (`align_boxes`); None keeps the labels as drawn.
        osd: share of rendered scenes with a camera's on-screen text over them (`synth.scenes.draw_osd`,
            no plate: a negative); recorded in `counts.json` as `osd_share`.
        eval_dirs: evaluation folders; a rendered scene whose image hashes come as near an evaluation
            image's as the leak check refuses (`eval_guard`: flat backdrops can) is drawn again from the
            next seed (`[seed, index, attempt]`), counted in `counts.json` as `scenes_redrawn`.
        kit_scenes_train / kit_scenes_val: more scenes whose vehicles carry plates of the reader's renderer
            (`synth.platekit.clean_plate`: EU with country band, UK, US with state words and emblems between
            the groups, BR, two-line and motorcycle plates; `KIT_PLATES` of them, seeded by `seed`) two
            times in three, as `crop_scenes_*` mount real photos.
    """
    out = Path(out_dir)
    rows: list[dict] = []
    counts = DatasetCounts()
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    aligned: AlignedBoxes | None = None
    if detect_dir is not None:
        photos = real_images(detect_dir)
        if box_reference is not None:
            aligned = align_boxes(photos, box_reference, progress)
        for split, image, label in tqdm(photos, desc="photos", disable=not progress):
            link = out / "images" / split / image.name
            if not link.is_symlink() and not link.exists():
                link.symlink_to(image.resolve())
            if aligned is None:
                shutil.copyfile(label, out / "labels" / split / label.name)
            else:
                lines = aligned.lines[label]
                (out / "labels" / split / label.name).write_text("".join(line + "\n" for line in lines))
            plates = sum(1 for line in label.read_text().splitlines() if line.strip())
            p, a = image_hashes(image)
            rows.append(_row(split, image.resolve(), "olpr", plates, p, a))
            counts.add(split, "olpr", plates)
    crops = (
        load_plate_crops(crop_dir) if crop_dir is not None and crop_scenes_train + crop_scenes_val else None
    )
    kit = None
    if kit_scenes_train + kit_scenes_val:  # plate texts of the evaluation sets are drawn again
        from .manifest import EvalGuard

        kit = kit_plates(seed, banned=set().union(*(EvalGuard(d).texts for d in eval_dirs or [])))
    index = HashIndex(eval_images(eval_dirs)) if eval_dirs else None
    redrawn = 0
    batches = [("train", synth_train, 0, "synth", None), ("val", synth_val, 1_000_000, "synth", None)]
    if crops:
        batches += [
            ("train", crop_scenes_train, 2_000_000, "synth_crops", crops),
            ("val", crop_scenes_val, 3_000_000, "synth_crops", crops),
        ]
    if kit:
        batches += [
            ("train", kit_scenes_train, 4_000_000, "synth_kit", kit),
            ("val", kit_scenes_val, 5_000_000, "synth_kit", kit),
        ]
    for split, n, offset, source, pool in batches:
        prefix = {"synth": "synth", "synth_crops": "synthc", "synth_kit": "synthk"}[source]
        for i in tqdm(range(n), desc=f"{source} {split}", disable=not progress):
            name = f"{prefix}_{offset + i:07d}"
            image_path = out / "images" / split / f"{name}.jpg"
            label_path = out / "labels" / split / f"{name}.txt"
            if image_path.is_file() and label_path.is_file():
                image = cv2.imread(str(image_path))
                hashes = phash(image), ahash(image)
                plates = len(label_path.read_text().splitlines())
            else:
                for attempt in range(MAX_SCENE_DRAWS):
                    rng = np.random.default_rng([seed, offset + i] + ([attempt] if attempt else []))
                    scene = render_scene(rng, plate_crops=pool, osd=osd)
                    image = scene.image
                    hashes = phash(image), ahash(image)
                    if index is None or index.nearest(*hashes) is None:
                        break
                    redrawn += 1
                else:
                    raise ConfigError(
                        f"rendered scene {name} looks like an evaluation image in {MAX_SCENE_DRAWS} draws",
                        "pass another --seed",
                    )
                quality = int(rng.integers(55, 96))
                cv2.imwrite(str(image_path), image, [cv2.IMWRITE_JPEG_QUALITY, quality])
                lines = scene_label_lines(scene.plate_boxes_xyxy, (image.shape[1], image.shape[0]))
                label_path.write_text("".join(line + "\n" for line in lines))
                plates = len(lines)
            rows.append(_row(split, image_path.resolve(), source, plates, *hashes))
            counts.add(split, source, plates)
    data_yaml = write_data_yaml(out)
    with open(out / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, MANIFEST_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    summary = counts.to_dict()
    if aligned is not None:
        summary["box_alignment"] = aligned.summary()
    if osd > 0:
        summary["osd_share"] = osd
    if redrawn:
        summary["scenes_redrawn"] = redrawn
    (out / "counts.json").write_text(json.dumps(summary, indent=2) + "\n")
    return data_yaml, counts


def write_data_yaml(data_dir: Path) -> Path:
    """`data_dir/data.yaml` for Ultralytics: one class, `plate`, with `path` where the folder is now."""
    data_yaml = data_dir / "data.yaml"
    data_yaml.write_text(
        f"path: {data_dir.resolve()}\ntrain: images/train\nval: images/val\nnc: 1\nnames:\n  0: plate\n"
    )
    return data_yaml


def _row(split: str, path: Path, source: str, plates: int, p: int, a: int) -> dict:
    return {
        "split": split,
        "file": str(path),
        "source": source,
        "licence": SOURCES[source][1],
        "plates": plates,
        "phash": f"{p:016x}",
        "ahash": f"{a:016x}",
    }


def read_manifest(path: str | Path) -> list[tuple[str, int, int]]:
    """(file, phash, ahash) of every image of a written `manifest.csv`."""
    with open(path, newline="") as fh:
        return [(r["file"], int(r["phash"], 16), int(r["ahash"], 16)) for r in csv.DictReader(fh)]
