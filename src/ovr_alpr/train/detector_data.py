"""The plate detector's training set: the shared labelled photos plus rendered scenes, as one YOLO dataset.

Layout written under `out_dir` (Ultralytics reads it through `data.yaml`):

    images/{train,val}/olpr_<n>.jpg   symbolic links to `shared/data/train/detect/images/...` (never copied)
    labels/{train,val}/olpr_<n>.txt   copies of its labels (`0 cx cy w h`, normalised)
    images/{train,val}/synth_<n>.jpg  rendered scenes (`synth.scenes`), labels beside them likewise
    images/{train,val}/synthc_<n>.jpg rendered scenes with real plate crops (`shared/data/train/ocr`)
    data.yaml, manifest.csv           one row per image: split, file, source, licence, plates, phash, ahash

Ultralytics writes its label cache beside `labels/`, so it lands here, not in the shared folder. Scenes are
rendered from `(seed, index)`, so a rebuild skips images already written and gives the same set.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..errors import ConfigError
from ..synth.scenes import render_scene
from .eval_guard import ahash, image_hashes, phash

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
}
#: Plate-crop sources of `shared/data/train/ocr` mounted in scenes (all cut at the plate's edges).
CROP_SOURCES = ("bench_us", "td_br", "lprnet_cn")
MANIFEST_FIELDS = ("split", "file", "source", "licence", "plates", "phash", "ahash")


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
) -> tuple[Path, DatasetCounts]:
    """Writes the dataset (see the module docstring); returns its `data.yaml` and the counts.

    Args:
        out_dir: folder to write (created; images already there are kept).
        detect_dir: the shared YOLO detection set, or None for rendered scenes only.
        synth_train: rendered scenes in the train split.
        synth_val: rendered scenes in the val split.
        seed: seed of the rendered scenes.
        crop_dir: `shared/data/train/ocr`: real plate photos to mount in `crop_scenes_*` more scenes.
    """
    out = Path(out_dir)
    rows: list[dict] = []
    counts = DatasetCounts()
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    if detect_dir is not None:
        for split, image, label in tqdm(real_images(detect_dir), desc="photos", disable=not progress):
            link = out / "images" / split / image.name
            if not link.is_symlink() and not link.exists():
                link.symlink_to(image.resolve())
            shutil.copyfile(label, out / "labels" / split / label.name)
            plates = sum(1 for line in label.read_text().splitlines() if line.strip())
            p, a = image_hashes(image)
            rows.append(_row(split, image.resolve(), "olpr", plates, p, a))
            counts.add(split, "olpr", plates)
    crops = (
        load_plate_crops(crop_dir) if crop_dir is not None and crop_scenes_train + crop_scenes_val else None
    )
    batches = [("train", synth_train, 0, "synth", None), ("val", synth_val, 1_000_000, "synth", None)]
    if crops:
        batches += [
            ("train", crop_scenes_train, 2_000_000, "synth_crops", crops),
            ("val", crop_scenes_val, 3_000_000, "synth_crops", crops),
        ]
    for split, n, offset, source, pool in batches:
        prefix = "synthc" if pool else "synth"
        for i in tqdm(range(n), desc=f"{source} {split}", disable=not progress):
            name = f"{prefix}_{offset + i:07d}"
            image_path = out / "images" / split / f"{name}.jpg"
            label_path = out / "labels" / split / f"{name}.txt"
            if image_path.is_file() and label_path.is_file():
                image = cv2.imread(str(image_path))
                plates = len(label_path.read_text().splitlines())
            else:
                rng = np.random.default_rng([seed, offset + i])
                scene = render_scene(rng, plate_crops=pool)
                image = scene.image
                quality = int(rng.integers(55, 96))
                cv2.imwrite(str(image_path), image, [cv2.IMWRITE_JPEG_QUALITY, quality])
                lines = scene_label_lines(scene.plate_boxes_xyxy, (image.shape[1], image.shape[0]))
                label_path.write_text("".join(line + "\n" for line in lines))
                plates = len(lines)
            rows.append(_row(split, image_path.resolve(), source, plates, phash(image), ahash(image)))
            counts.add(split, source, plates)
    data_yaml = write_data_yaml(out)
    with open(out / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, MANIFEST_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    (out / "counts.json").write_text(json.dumps(counts.to_dict(), indent=2) + "\n")
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
