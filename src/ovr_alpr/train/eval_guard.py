"""Keeps evaluation images out of training: path and image-hash checks of a training list.

The evaluation sets (`../shared/data/openalpr/{eu,us}`) must never be trained on. A training image is a
leak when its resolved path lies inside an evaluation folder or is an evaluation file, or when its
perceptual hash (`phash`) is within `PHASH_MAX_DISTANCE` bits of an evaluation image's, or its average
hash (`ahash`) within `AHASH_MAX_DISTANCE` bits (a resized or re-encoded copy keeps both hashes close).
The thresholds follow the training data's own exclusion rule (`shared/data/train/README.md`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

PHASH_MAX_DISTANCE = 6
AHASH_MAX_DISTANCE = 3
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def phash(image: np.ndarray) -> int:
    """64-bit perceptual hash: DCT of the 32x32 grey image, its top-left 8x8 against their median."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8]
    return _bits(low > np.median(low))


def ahash(image: np.ndarray) -> int:
    """64-bit average hash: the 8x8 grey image against its mean."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    small = cv2.resize(grey, (8, 8), interpolation=cv2.INTER_AREA).astype(np.float32)
    return _bits(small > small.mean())


def _bits(mask: np.ndarray) -> int:
    return int("".join("1" if b else "0" for b in mask.flatten()), 2)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def image_hashes(path: str | Path) -> tuple[int, int]:
    """(phash, ahash) of an image file.

    Raises:
        ValueError: the file cannot be decoded.
    """
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot decode image {path}")
    return phash(image), ahash(image)


@dataclass(frozen=True)
class EvalImage:
    path: Path
    phash: int
    ahash: int


def eval_images(eval_dirs: Iterable[str | Path]) -> list[EvalImage]:
    """Every image under the evaluation folders, hashed."""
    found = []
    for folder in eval_dirs:
        for path in sorted(Path(folder).rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                found.append(EvalImage(path.resolve(), *image_hashes(path)))
    return found


@dataclass(frozen=True)
class Leak:
    """A training image that is, or looks like, an evaluation image."""

    train_path: str
    eval_path: str
    reason: str


def find_leaks(
    train: Iterable[tuple[str | Path, int | None, int | None]],
    eval_dirs: Iterable[str | Path],
    evals: list[EvalImage] | None = None,
) -> list[Leak]:
    """Training images that are evaluation images, by path or by hash.

    Args:
        train: (path, phash, ahash) per training image; a None hash is computed from the file.
        eval_dirs: the evaluation folders.
        evals: their images, already hashed (`eval_images`), to save hashing them again.
    """
    dirs = [Path(d).resolve() for d in eval_dirs]
    evals = evals if evals is not None else eval_images(dirs)
    eval_paths = {e.path: e for e in evals}
    index = HashIndex(evals)
    leaks = []
    for path, p, a in train:
        resolved = Path(path).resolve()
        if resolved in eval_paths or any(resolved.is_relative_to(d) for d in dirs):
            leaks.append(Leak(str(path), str(resolved), "path"))
            continue
        if p is None or a is None:
            p, a = image_hashes(resolved)
        hit = index.nearest(p, a)
        if hit is not None:
            leaks.append(Leak(str(path), str(hit[0].path), f"phash {hit[1]} / ahash {hit[2]} bits"))
    return leaks


class HashIndex:
    """The evaluation images' hashes, to ask whether an image (by its hashes) looks like one of them."""

    def __init__(self, evals: list[EvalImage]) -> None:
        self.evals = evals
        self._p = np.array([e.phash for e in evals], dtype=np.uint64)
        self._a = np.array([e.ahash for e in evals], dtype=np.uint64)

    def nearest(self, p: int, a: int) -> tuple[EvalImage, int, int] | None:
        """The closest evaluation image within `PHASH_MAX_DISTANCE` or `AHASH_MAX_DISTANCE` bits, with the
        two distances, or None."""
        if not self.evals:
            return None
        dp = _popcount(self._p ^ np.uint64(p))
        da = _popcount(self._a ^ np.uint64(a))
        hit = np.flatnonzero((dp <= PHASH_MAX_DISTANCE) | (da <= AHASH_MAX_DISTANCE))
        if not hit.size:
            return None
        k = int(hit[np.argmin(dp[hit])])
        return self.evals[k], int(dp[k]), int(da[k])


def _popcount(x: np.ndarray) -> np.ndarray:
    """Bits set in each uint64."""
    bytes_ = x.view(np.uint8).reshape(-1, 8)
    return np.unpackbits(bytes_, axis=1).sum(axis=1)
