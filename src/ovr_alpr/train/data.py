"""Training batches: real crops augmented online, rendered plates made once and cached.

Images enter the network as the reader feeds them: the crop resized plainly (no aspect keeping) to
width x height, RGB uint8.
"""

from __future__ import annotations

import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..imaging import jpeg_roundtrip
from ..synth.platekit import Style, render_sample
from .manifest import Entry, load_entry_image

log = logging.getLogger(__name__)

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
PAD = "_"

#: sampling weight of a source's crops, relative to 1 (the benchmark regions count more)
SOURCE_WEIGHTS = {"bench_us": 2.0, "td_eu": 1.5, "td_eu2": 2.0, "lprnet_cn": 0.5}


def encode(label: str, slots: int, alphabet: str = ALPHABET) -> np.ndarray:
    """Class indices of `label` padded with the pad class to `slots`."""
    idx = [alphabet.index(c) for c in label[:slots]]
    return np.array(idx + [alphabet.index(PAD)] * (slots - len(idx)), dtype=np.int64)


def decode(indices: np.ndarray, alphabet: str = ALPHABET) -> str:
    return "".join(alphabet[i] for i in indices).replace(PAD, "")


def to_input(image_bgr: np.ndarray, width: int, height: int) -> np.ndarray:
    """What the reader feeds the network: plain resize, RGB."""
    return cv2.cvtColor(
        cv2.resize(image_bgr, (width, height), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB
    )


def augment(
    image_bgr: np.ndarray,
    rng: np.random.Generator,
    width: int,
    height: int,
    geometry: float = 1.0,
    camera: float = 0.0,
    motion_blur: float = 0.0,
) -> np.ndarray:
    """A randomly distorted network input (RGB uint8 height x width) from a BGR crop.

    Geometry: each corner of the crop moves by a few percent (tighter or looser crops, small rotation and
    perspective), in one warp straight to the network size. Photometry: brightness, contrast, colour
    balance, grey, blur, low resolution, noise, JPEG. With probability `camera` the crop is made to look
    as a far street camera cuts it instead (`far_camera`); with probability `motion_blur` it is smeared
    as a moving plate is over the exposure (`motion_streak`).
    """
    if rng.random() < camera:
        img = far_camera(image_bgr, rng, width, height, geometry)
        if motion_blur and rng.random() < motion_blur:
            img = motion_streak(img, rng)
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    h, w = image_bgr.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    src += np.float32(rng.normal(0, 1, (4, 2)) * [0.035 * w * geometry, 0.07 * h * geometry])
    src += np.float32(rng.normal(0, 1, 2) * [0.02 * w * geometry, 0.04 * h * geometry])
    img = _warp(image_bgr, src, width, height, cv2.BORDER_REPLICATE)
    if motion_blur and rng.random() < motion_blur:
        img = motion_streak(img, rng)
    if rng.random() < 0.2:  # low resolution
        s = rng.uniform(0.35, 0.8)
        small = cv2.resize(
            img, (max(8, int(width * s)), max(4, int(height * s))), interpolation=cv2.INTER_AREA
        )
        img = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.2:
        img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.3, 1.2))
    f = img.astype(np.float32)
    if rng.random() < 0.1:
        f = np.repeat(f.mean(axis=2, keepdims=True), 3, axis=2)
    mean = f.mean()
    f = (f - mean) * rng.uniform(0.6, 1.4) + mean * rng.uniform(0.6, 1.3)
    f *= rng.uniform(0.85, 1.15, 3)[None, None, :]
    if rng.random() < 0.5:
        f += rng.normal(0, rng.uniform(1, 8), (*f.shape[:2], 1))
    img = np.clip(f, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        img = jpeg_roundtrip(img, int(rng.integers(25, 90)))
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def motion_streak(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The crop smeared along a line: a plate moving over the exposure (a car crossing the view at a slow
    shutter, a night frame). Mostly sideways (within 15 degrees, 2-8 % of the crop's width), else at any
    angle and shorter (2-5 %: a car coming towards a camera above the road moves its plate down the frame,
    and a plate is a fifth to a half as high as wide)."""
    w = image.shape[1]
    if rng.random() < 0.7:
        length, angle = rng.uniform(0.02, 0.08) * w, rng.uniform(-15, 15)
    else:
        length, angle = rng.uniform(0.02, 0.05) * w, rng.uniform(0, 180)
    k = max(3, int(np.ceil(length)) | 1)
    kernel = np.zeros((k, k), np.float32)
    c, dx, dy = k // 2, np.cos(np.radians(angle)) * length / 2, np.sin(np.radians(angle)) * length / 2
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1, cv2.LINE_AA)
    return cv2.filter2D(image, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REPLICATE)


def _warp(
    image_bgr: np.ndarray, src: np.ndarray, width: int, height: int, border: int, fill=None
) -> np.ndarray:
    dst = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    m = cv2.getPerspectiveTransform(np.float32(src), dst)
    return cv2.warpPerspective(
        image_bgr, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=fill
    )


def far_camera(
    image_bgr: np.ndarray, rng: np.random.Generator, width: int, height: int, geometry: float = 1.0
) -> np.ndarray:
    """A plate crop as a far or cheap camera delivers it (BGR uint8 height x width).

    The box is looser on some sides (the plate's frame and the car around it: replicated, mirrored or a
    plain dark/light border), the plate is only 18-40 px high, blurred by focus or motion, compressed
    hard at that size, then scaled up to the network size as the reader scales a small crop.
    """
    h, w = image_bgr.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    src += np.float32(rng.normal(0, 1, (4, 2)) * [0.03 * w * geometry, 0.06 * h * geometry])
    top = bottom = 0.0
    if rng.random() < 0.7:  # looser box: left, top, right, bottom margins
        left, top, right, bottom = rng.uniform(0, [0.12, 0.3, 0.12, 0.3]) * [w, h, w, h]
        src += np.float32([[-left, -top], [right, -top], [right, bottom], [-left, bottom]])
    border = int(rng.choice([cv2.BORDER_REPLICATE, cv2.BORDER_REFLECT, cv2.BORDER_CONSTANT]))
    grey = float(rng.uniform(0, 1) * rng.uniform(150, 255))  # a plain border from black to light grey
    fill = (grey, grey, grey)
    img = _warp(image_bgr, src, width, height, border, fill)
    plate_h = rng.uniform(18, 40)  # the crop's own height; the margins come on top
    crop_h = plate_h * (1 + (top + bottom) / h)
    small_size = (max(8, round(width * crop_h / height)), max(6, round(crop_h)))
    small = cv2.resize(img, small_size, interpolation=cv2.INTER_AREA)
    if rng.random() < 0.4:
        if rng.random() < 0.5:  # motion: a short horizontal streak (longer on larger plates)
            k = 3 if plate_h > 26 and rng.random() < 0.5 else 2
            small = cv2.filter2D(small, -1, np.full((1, k), 1.0 / k, np.float32))
        else:
            small = cv2.GaussianBlur(small, (3, 3), rng.uniform(0.3, 0.7))
    f = small.astype(np.float32)
    mean = f.mean()
    f = (f - mean) * rng.uniform(0.6, 1.3) + mean * rng.uniform(0.6, 1.3)
    f += rng.normal(0, rng.uniform(0, 6), (*f.shape[:2], 1))
    small = np.clip(f, 0, 255).astype(np.uint8)
    if rng.random() < 0.8:
        small = jpeg_roundtrip(small, int(rng.integers(25, 75)))
    up = cv2.INTER_LINEAR if rng.random() < 0.7 else cv2.INTER_CUBIC
    return cv2.resize(small, (width, height), interpolation=up)


def _render_chunk(
    args: tuple[int, int, int, int, int, tuple[str, ...], Style],
) -> tuple[np.ndarray, list[str]]:
    seed, start, count, width, height, banned, style = args
    banned_set = set(banned)
    images = np.empty((count, height, width, 3), np.uint8)
    labels = []
    for i in range(count):
        rng = np.random.default_rng([seed, start + i])
        s = render_sample(rng, reject=banned_set.__contains__, style=style)
        images[i] = to_input(s.image, width, height)
        labels.append(s.text)
    return images, labels


def render_synthetic(
    n: int,
    seed: int,
    width: int,
    height: int,
    cache: Path | None,
    banned: set[str],
    workers: int = 2,
    style: Style = Style(),
) -> tuple[np.ndarray, list[str]]:
    """`n` rendered plates as network inputs (BGR->RGB, resized) and labels, cached in `cache` (.npz).

    Sample i depends on (seed, i, style) only, so the set is the same whatever `workers` is. Labels in
    `banned` (evaluation plate texts) are drawn again.
    """
    if cache and cache.is_file():
        data = np.load(cache, allow_pickle=False)
        if len(data["labels"]) == n and data["images"].shape[1:3] == (height, width):
            log.info("synthetic plates from cache %s", cache)
            return data["images"], [str(s) for s in data["labels"]]
    chunk = 500
    jobs = [
        (seed, s, min(chunk, n - s), width, height, tuple(sorted(banned)), style) for s in range(0, n, chunk)
    ]
    images, labels = [], []
    from tqdm import tqdm

    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            for imgs, labs in tqdm(pool.map(_render_chunk, jobs), total=len(jobs), desc="render plates"):
                images.append(imgs)
                labels.extend(labs)
    else:
        for job in tqdm(jobs, desc="render plates"):
            imgs, labs = _render_chunk(job)
            images.append(imgs)
            labels.extend(labs)
    out = np.concatenate(images) if images else np.empty((0, height, width, 3), np.uint8)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, images=out, labels=np.array(labels))
    return out, labels


@dataclass
class RealSet:
    """Real crops in memory (BGR, as cut) with their labels and sampling weights."""

    images: list[np.ndarray]
    labels: list[str]
    sources: list[str]
    weights: np.ndarray

    @classmethod
    def load(cls, entries: list[Entry], slots: int) -> RealSet:
        images, labels, sources = [], [], []
        for e in entries:
            if len(e.label) > slots or any(c not in ALPHABET[:-1] for c in e.label):
                continue
            img = load_entry_image(e)
            if img is None or img.size == 0:
                continue
            images.append(np.ascontiguousarray(img))
            labels.append(e.label)
            sources.append(e.source)
        w = np.array([SOURCE_WEIGHTS.get(s, 1.0) for s in sources], dtype=np.float64)
        return cls(images, labels, sources, w / max(w.sum(), 1e-9))


class BatchMaker:
    """Batches of (images uint8 [B, H, W, 3], targets int64 [B, slots]): `real_fraction` augmented real
    crops, the rest augmented rendered plates. The generator state is part of a checkpoint."""

    def __init__(
        self,
        real: RealSet,
        synth_images: np.ndarray,
        synth_labels: list[str],
        slots: int,
        width: int,
        height: int,
        seed: int,
        real_fraction: float = 0.5,
        geometry: float = 1.0,
        camera: float = 0.0,
        motion_blur: float = 0.0,
    ) -> None:
        self.real, self.synth_images, self.slots = real, synth_images, slots
        self.width, self.height = width, height
        self.real_targets = [encode(t, slots) for t in real.labels]
        self.synth_targets = np.stack([encode(t, slots) for t in synth_labels]) if synth_labels else None
        self.real_fraction = real_fraction if real.images else 0.0
        if self.synth_targets is None:
            self.real_fraction = 1.0
        self.rng = np.random.default_rng(seed)
        self.geometry, self.camera, self.motion_blur = geometry, camera, motion_blur

    def __call__(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        n_real = round(batch * self.real_fraction)
        images = np.empty((batch, self.height, self.width, 3), np.uint8)
        targets = np.empty((batch, self.slots), np.int64)
        if n_real:
            idx = self.rng.choice(len(self.real.images), n_real, p=self.real.weights)
            for k, i in enumerate(idx):
                images[k] = augment(
                    self.real.images[i],
                    self.rng,
                    self.width,
                    self.height,
                    self.geometry,
                    self.camera,
                    self.motion_blur,
                )
                targets[k] = self.real_targets[i]
        if batch > n_real:
            idx = self.rng.integers(0, len(self.synth_images), batch - n_real)
            for k, i in enumerate(idx, start=n_real):
                bgr = cv2.cvtColor(self.synth_images[i], cv2.COLOR_RGB2BGR)
                images[k] = augment(
                    bgr, self.rng, self.width, self.height, 0.5 * self.geometry, self.camera, self.motion_blur
                )
                targets[k] = self.synth_targets[i]
        return images, targets
