"""Training manifests: which real crops a reader trains on, with labels, sources and licences.

Sources (see `../shared/data/train/README.md`):

- labelled crops (`ocr/labels.csv`);
- unlabelled crops (`ocr-unlabelled/`) and plate boxes cut from the detection set (`detect/`), labelled by
  a teacher model only where it is sure (every slot's probability >= `min_slot_p`) and the text looks like a
  plate (`plausible_plate`).

Every entry is checked against the evaluation sets: an entry whose plate text equals an evaluation plate text
(upper-case A-Z0-9) or whose image is within `PHASH_MAX_DISTANCE` bits (perceptual hash) of an evaluation
image or evaluation plate crop is dropped (`EvalGuard`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

PHASH_MAX_DISTANCE = 6
LICENCES = {
    "bench_us": "AGPL-3.0 (openalpr/benchmarks)",
    "td_br": "AGPL-3.0 (openalpr/train-detector)",
    "lprnet_cn": "Apache-2.0 (sirius-ai/LPRNet_Pytorch)",
    "td_eu": "AGPL-3.0 (openalpr/train-detector eu/), teacher-labelled",
    "td_eu2": "AGPL-3.0 (openalpr/train-detector eu2/), teacher-labelled",
    "olpr": "Apache-2.0 (faisalthaheem/open-lpr-dataset-plate-detection), teacher-labelled",
}


@dataclass
class Entry:
    """One training crop: `path` (absolute), `label` (A-Z0-9), `source`, `licence`, `split` (train/dev),
    `box` (x1,y1,x2,y2 in the image when the crop is cut from a larger image, else empty), `region`."""

    path: str
    label: str
    source: str
    licence: str
    split: str = "train"
    box: tuple[float, ...] = ()
    region: str = ""


def normalise(text: str) -> str:
    """Upper-case A-Z0-9 only."""
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def phash(image: np.ndarray) -> int:
    """64-bit perceptual hash (DCT of a 32x32 grey image, top-left 8x8 against its median), as
    `imagehash.phash` computes it."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8]
    bits = (low > np.median(low)).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def cut(image: np.ndarray, box: tuple[float, ...], pad_x: float = 0.04, pad_y: float = 0.10) -> np.ndarray:
    """The plate crop of `box` (x1,y1,x2,y2) with the margins `ocr.crops.crop_plate` uses."""
    from ..ocr.crops import crop_plate

    return crop_plate(image, np.asarray(box, np.float32), pad_x, pad_y)


def load_entry_image(entry: Entry) -> np.ndarray | None:
    image = cv2.imread(entry.path, cv2.IMREAD_COLOR)
    if image is None:
        return None
    return cut(image, entry.box) if entry.box else image


class EvalGuard:
    """Texts and perceptual hashes of every evaluation image and plate crop under `eval_root`
    (OpenALPR layout: `NAME.jpg` + `NAME.txt` with `file x y w h PLATE` lines)."""

    def __init__(self, eval_root: Path | None) -> None:
        self.texts: set[str] = set()
        self.hashes: list[int] = []
        self.files: set[str] = set()
        if eval_root is None or not Path(eval_root).is_dir():
            return
        for txt in sorted(Path(eval_root).rglob("*.txt")):
            image_path = txt.with_suffix(".jpg")
            image = cv2.imread(str(image_path)) if image_path.is_file() else None
            if image is not None:
                self.files.add(str(image_path.resolve()))
                self.hashes.append(phash(image))
            for line in txt.read_text().splitlines():
                parts = line.split("\t") if "\t" in line else line.split()
                if len(parts) < 6:
                    continue
                self.texts.add(normalise(parts[5]))
                if image is not None:
                    x, y, w, h = (float(v) for v in parts[1:5])
                    crop = cut(image, (x, y, x + w, y + h))
                    if crop.size:
                        self.hashes.append(phash(crop))
                        self.hashes.append(phash(image[int(y) : int(y + h), int(x) : int(x + w)]))
        self._array = np.array(self.hashes, dtype=np.uint64)

    def __bool__(self) -> bool:
        return bool(self.texts or self.hashes)

    def text_leaks(self, label: str) -> bool:
        return normalise(label) in self.texts

    def nearest(self, image: np.ndarray) -> int:
        """Least Hamming distance from `image`'s phash to any evaluation hash (65 when none)."""
        if not self.hashes:
            return 65
        x = np.uint64(phash(image)) ^ self._array
        bits = np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
        return int(bits.min())

    def image_leaks(self, image: np.ndarray, path: str = "") -> bool:
        if path and str(Path(path).resolve()) in self.files:
            return True
        return self.nearest(image) <= PHASH_MAX_DISTANCE


def plausible_plate(text: str) -> bool:
    """A teacher read we trust as a label: 4-9 characters, letters and digits both present."""
    return 4 <= len(text) <= 9 and any(c.isdigit() for c in text) and any(c.isalpha() for c in text)


def labelled_entries(ocr_dir: Path) -> list[Entry]:
    """The labelled crops of `ocr/labels.csv`."""
    out = []
    with (ocr_dir / "labels.csv").open() as f:
        for row in csv.DictReader(f):
            out.append(
                Entry(
                    str((ocr_dir / "images" / row["file"]).resolve()),
                    normalise(row["plate"]),
                    row["source"],
                    LICENCES.get(row["source"], "see ../shared/data/train/README.md"),
                    region=row.get("region", ""),
                )
            )
    return out


def unlabelled_candidates(unlabelled_dir: Path | None, detect_dir: Path | None) -> list[Entry]:
    """Crops without text: `ocr-unlabelled/images/*.jpg` and the plate boxes of `detect/`."""
    out: list[Entry] = []
    if unlabelled_dir and (unlabelled_dir / "images").is_dir():
        for p in sorted((unlabelled_dir / "images").glob("*.jpg")):
            source = "td_eu2" if p.name.startswith("td_eu2_") else "td_eu"
            out.append(Entry(str(p.resolve()), "", source, LICENCES[source], region="eu"))
    if detect_dir and (detect_dir / "images").is_dir():
        for p in sorted((detect_dir / "images").rglob("*.jpg")):
            label_file = detect_dir / "labels" / p.parent.name / (p.stem + ".txt")
            if not label_file.is_file():
                continue
            image = cv2.imread(str(p))
            if image is None:
                continue
            h, w = image.shape[:2]
            for line in label_file.read_text().splitlines():
                parts = line.split()
                if len(parts) < 5:
                    continue
                cx, cy, bw, bh = (float(v) for v in parts[1:5])
                box = ((cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h)
                if (box[2] - box[0]) < 30:  # too small to read
                    continue
                out.append(Entry(str(p.resolve()), "", "olpr", LICENCES["olpr"], box=box))
    return out


def teacher_label(
    entries: list[Entry], teacher_path: Path, min_slot_p: float = 0.9, batch: int = 64
) -> tuple[list[Entry], dict[str, int]]:
    """Label `entries` with a fast-plate-ocr ONNX teacher; keep sure, plausible reads.

    Returns the kept entries (labels filled) and counts per source of candidates and kept.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(teacher_path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    _, height, width, _ = session.get_inputs()[0].shape
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
    kept: list[Entry] = []
    counts: dict[str, int] = {}
    for start in range(0, len(entries), batch):
        chunk = entries[start : start + batch]
        images, ok = [], []
        for e in chunk:
            img = load_entry_image(e)
            if img is None or img.size == 0:
                continue
            rgb = cv2.cvtColor(
                cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB
            )
            images.append(rgb)
            ok.append(e)
        if not images:
            continue
        probs = session.run(None, {name: np.stack(images)})[0].reshape(len(images), -1, len(alphabet))
        for e, p in zip(ok, probs, strict=True):
            counts[f"{e.source}_candidates"] = counts.get(f"{e.source}_candidates", 0) + 1
            best = p.argmax(axis=1)
            text = "".join(alphabet[i] for i in best)
            stripped = text.rstrip("_")
            if p.max(axis=1).min() < min_slot_p or "_" in stripped or not plausible_plate(stripped):
                continue
            e.label = stripped
            kept.append(e)
            counts[f"{e.source}_kept"] = counts.get(f"{e.source}_kept", 0) + 1
    return kept, counts


def assign_dev(entries: list[Entry], fraction: float, seed: int) -> None:
    """Mark about `fraction` of entries `dev`, grouped by plate text (one plate is never in both splits)."""
    for e in entries:
        digest = hashlib.sha1(f"{seed}:{e.label}".encode()).digest()
        e.split = "dev" if int.from_bytes(digest[:4], "big") / 2**32 < fraction else "train"


def drop_leaks(entries: Iterable[Entry], guard: EvalGuard) -> tuple[list[Entry], int]:
    """Entries whose text and image are not in the evaluation sets, and how many were dropped."""
    kept, dropped = [], 0
    for e in entries:
        image = load_entry_image(e)
        if image is None or image.size == 0 or guard.text_leaks(e.label) or guard.image_leaks(image, e.path):
            dropped += 1
            continue
        kept.append(e)
    return kept, dropped


def write_manifest(entries: list[Entry], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for e in entries:
            f.write(json.dumps(asdict(e)) + "\n")


def read_manifest(path: Path) -> list[Entry]:
    out = []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            d = json.loads(line)
            d["box"] = tuple(d.get("box") or ())
            out.append(Entry(**d))
    return out
