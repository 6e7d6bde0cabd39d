"""PP-OCRv4 text recognition (ONNX, CTC) restricted to a plate alphabet."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from ..config import OcrConfig
from ..errors import ModelError
from ..plate_text.text import PlateText
from ..runtime.backends.base import InferenceBackend
from ..runtime.zoo import default_model_path
from .base import READERS, greedy_spans
from .variants import DEFAULT_VARIANTS, VARIANTS, crop_variants

# Characters that may appear between plate groups; read, then dropped from the text.
SEPARATORS = " -·.:"


def charset_from_backend(backend: InferenceBackend) -> list[str]:
    """PP-OCR's CTC classes: blank, the characters in the model's metadata, then a space."""
    session = getattr(backend, "session", None)
    meta = session.get_modelmeta().custom_metadata_map if session is not None else {}
    chars = getattr(backend, "charset", None) or meta.get("character")
    if not chars:
        raise ModelError(
            f"OCR model {backend.model_path} has no 'character' list in its metadata",
            "use a PP-OCR rec model exported with its dictionary (e.g. rapidocr's)",
        )
    lines = chars.splitlines() if isinstance(chars, str) else list(chars)
    return ["<blank>", *lines, " "]


class PPOCRConfig(OcrConfig):
    """PP-OCRv4 rec (the `rapidocr-onnxruntime` wheel's model by default).

    Attributes:
        crop_variants: versions of each plate crop read in one batch, the most confident read kept: `full`
            (the crop as cut), `band_rows` (its rows holding the characters), `band` (cut to the
            characters on all sides; the crop itself when no characters are found). Each is one OCR
            input: `[band]` alone costs ~1.1x a plain read, the default ~2x (see `ocr.variants`).
    """

    type: Literal["ppocr"] = "ppocr"
    crop_variants: list[Literal["full", "band_rows", "band"]] = Field(
        default_factory=lambda: ["band_rows", "band"], min_length=1
    )


@READERS.register("ppocr", config=PPOCRConfig)
class PPOCRReader:
    """Recognises plate text with a PP-OCR rec model.

    Only `alphabet` characters (and separators) may win a CTC step: letters are read case-insensitively
    (upper- and lower-case probabilities are summed), everything else (e.g. CJK) is masked out.

    Each crop is read as several `variants` (see `ocr.variants`: the crop as cut, or cut down to its line of
    characters) in one batch, and the most confident read with at least `min_chars` characters is kept
    (the most confident read at all when none has that many).

    Args:
        backend: the loaded rec model, input [N, 3, 48, W].
        alphabet: characters a plate may contain.
        max_width: widest input in px (48 px high); wider crops are squeezed.
        variants: crop variants read per crop (`("full",)`: the crop only, one read).
        min_chars: reads shorter than this lose to any longer read of another variant.
    """

    def __init__(
        self,
        backend: InferenceBackend,
        alphabet: str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        height: int = 48,
        max_width: int = 320,
        variants: tuple[str, ...] | list[str] = DEFAULT_VARIANTS,
        min_chars: int = 4,
    ) -> None:
        self.backend = backend
        self.height = height
        self.max_width = max_width
        self.width_step = 64
        unknown = set(variants) - set(VARIANTS)
        if unknown:
            raise ValueError(f"unknown OCR crop variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
        self.variants = tuple(variants) or ("full",)
        self.min_chars = min_chars
        charset = charset_from_backend(backend)
        index = {c: i for i, c in enumerate(charset)}
        out_chars = list(dict.fromkeys(alphabet.upper()))
        # (n_classes_kept, n_model_classes) 0/1 matrix: each kept class sums its source classes
        sources: list[list[int]] = [[0]]  # blank
        labels = [""]
        for c in out_chars:
            ids = [index[v] for v in {c, c.lower()} if v in index]
            if ids:
                sources.append(ids)
                labels.append(c)
        for s in SEPARATORS:
            if s in index:
                sources.append([index[s]])
                labels.append("")
        self._gather = np.zeros((len(charset), len(sources)), dtype=np.float32)
        for j, ids in enumerate(sources):
            self._gather[ids, j] = 1.0
        self._labels = np.array(labels, dtype=object)
        self._is_char = self._labels != ""

    def _prepare(self, crop: np.ndarray, width: int) -> np.ndarray:
        h, w = crop.shape[:2]
        resized_w = min(width, max(1, math.ceil(self.height * w / max(h, 1))))
        resized = cv2.resize(crop, (resized_w, self.height), interpolation=cv2.INTER_LINEAR)
        out = np.zeros((3, self.height, width), dtype=np.float32)
        out[:, :, :resized_w] = resized.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0
        return out

    @classmethod
    def default_model(cls) -> Path:
        """The embedded model file, used when `ocr.model.path` is not set."""
        return default_model_path("ocr")

    @classmethod
    def from_config(cls, cfg: PPOCRConfig, backend: InferenceBackend) -> PPOCRReader:
        return cls(
            backend, alphabet=cfg.alphabet, variants=tuple(cfg.crop_variants), min_chars=cfg.min_plate_chars
        )

    def read(self, crop: np.ndarray) -> PlateText:
        return self.read_batch([crop])[0]

    def read_batch(self, crops: list[np.ndarray]) -> list[PlateText]:
        if not crops:
            return []
        if self.variants == ("full",):
            return self._read_crops(crops)
        groups = [crop_variants(c, self.variants) for c in crops]
        reads = self._read_crops([v for g in groups for v in g])
        out, start = [], 0
        for g in groups:
            options = reads[start : start + len(g)]
            start += len(g)
            out.append(max(options, key=lambda r: (len(r.text) >= self.min_chars, r.confidence)))
        return out

    def warmup(self) -> None:
        """Run every input width once (one plate's variants per batch), so no shape is first seen live."""
        for width in range(self.height * 4, self.max_width + 1, self.width_step):
            n = len(self.variants)
            self.backend(np.zeros((n, 3, self.height, width), dtype=np.float32))

    def _read_crops(self, crops: list[np.ndarray]) -> list[PlateText]:
        ratios = [c.shape[1] / max(c.shape[0], 1) for c in crops]
        width = min(self.max_width, max(self.height * 4, math.ceil(self.height * max(ratios))))
        # a few fixed widths: GPU backends (torch/cuDNN, TensorRT profiles) pay for every new input shape
        width = min(self.max_width, -(-width // self.width_step) * self.width_step)
        batch = np.stack([self._prepare(c, width) for c in crops])
        probs = self.backend(batch)[0].astype(np.float32)  # (N, T, classes)
        return [self._decode(p) for p in probs]

    def _decode(
        self, probs: np.ndarray, n_alternatives: int = 3, min_alternative_p: float = 1e-4
    ) -> PlateText:
        kept = probs @ self._gather  # (T, kept classes)
        best = kept.argmax(axis=1)
        best_p = kept[np.arange(len(best)), best]
        chars, char_p, alternatives = [], [], []
        for t0, t1 in greedy_spans(best):
            cls = best[t0]
            if cls == 0 or not self._is_char[cls]:
                continue
            chars.append(self._labels[cls])
            char_p.append(float(best_p[t0]))
            # runner-ups over the frames of this character: what else the model saw there
            span = kept[t0:t1].max(axis=0)
            span[0] = 0.0
            span[~self._is_char] = 0.0
            span[cls] = 0.0
            top = np.argsort(-span)[:n_alternatives]
            alternatives.append(
                tuple((str(self._labels[j]), float(span[j])) for j in top if span[j] >= min_alternative_p)
            )
        conf = float(np.mean(char_p)) if char_p else 0.0
        return PlateText("".join(chars), conf, tuple(char_p), tuple(alternatives))
