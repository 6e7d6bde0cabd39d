"""Fixed-slot plate readers: OVR-ALPR's own (`ovr`) and any fast-plate-ocr ONNX (`fast_plate_ocr`).

Such a model takes the whole crop, resized to a fixed size, and returns for each of K character slots a
probability over an alphabet with a pad class (`_` = no character). Every slot sees the whole image, so
two-line plates are read in one pass. The plate config (slots, alphabet, pad, image size, colour mode) uses
fast-plate-ocr's keys and comes from, in order: `ocr.plate_config` (its YAML file), the model's ONNX
metadata (`plate_config`, written by `ovr-alpr train reader`), or the model's input/output shapes with
fast-plate-ocr's global alphabet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field

from ..config import OcrConfig
from ..errors import ConfigError, ModelError
from ..plate_text.text import PlateText
from ..runtime.backends.base import InferenceBackend
from ..runtime.zoo import default_model_path
from .base import READERS, greedy_spans
from .second import SecondOpinionConfig

FAST_PLATE_OCR_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_"

#: Crop variants a fixed-slot reader can read and pick from: the crop as cut, cut in by `BOX_JITTER` of its
#: width and height on each side, or grown by as much with its edge pixels repeated.
BOX_VARIANTS = ("full", "tight", "loose")
BOX_JITTER = (0.03, 0.08)
#: Each variant as the cut `cut_in` makes (fractions of the crop's width and height on each side).
VARIANT_CUTS = {"full": (0.0, 0.0), "tight": BOX_JITTER, "loose": (-BOX_JITTER[0], -BOX_JITTER[1])}


def cut_in(crop: np.ndarray, fx: float, fy: float) -> np.ndarray:
    """The crop cut in by `fx` of its width and `fy` of its height on each side (either negative: grown by
    both, its edge pixels repeated); as cut when that would leave nothing."""
    h, w = crop.shape[:2]
    dx, dy = round(abs(fx) * w), round(abs(fy) * h)
    if fx < 0 or fy < 0:
        return cv2.copyMakeBorder(crop, dy, dy, dx, dx, cv2.BORDER_REPLICATE)
    if not dx and not dy:
        return crop
    return crop[dy : h - dy, dx : w - dx] if h > 2 * dy + 1 and w > 2 * dx + 1 else crop


def box_variant(crop: np.ndarray, name: str) -> np.ndarray:
    """The crop as variant `name` (see `BOX_VARIANTS`)."""
    if name not in VARIANT_CUTS:
        raise ValueError(f"unknown crop variant {name!r}; known: {', '.join(BOX_VARIANTS)}")
    return cut_in(crop, *VARIANT_CUTS[name])


def grid_cuts(n: int) -> list[tuple[float, float]]:
    """An n x n grid of cuts from none to `tight`'s (`BOX_JITTER`) on each axis; [] for n < 2."""
    if n < 2:
        return []
    steps = [i / (n - 1) for i in range(n)]
    return [(BOX_JITTER[0] * a, BOX_JITTER[1] * b) for a in steps for b in steps]


def voted_read(reads: list[PlateText]) -> PlateText:
    """The text most of `reads` agree on (ties: the most confident of the tied reads; empty reads do not
    vote), its confidence weighted by how far they agree (`agreed_read`).

    Example:
        >>> r = [PlateText(t, c, (c,) * 4) for t, c in (("AB12", 0.7), ("A812", 0.9), ("AB12", 0.6))]
        >>> voted_read(r).text
        'AB12'
    """
    counts: dict[str, int] = {}
    for r in reads:
        if r.text:  # a framing that reads nothing has no say in what the plate says
            counts[r.text] = counts.get(r.text, 0) + 1
    if not counts:
        return agreed_read(reads)
    top = max(counts.values())
    best = max((r for r in reads if counts.get(r.text) == top), key=lambda r: r.confidence)
    return agreed_read(reads, best)


@dataclass(frozen=True)
class PlateConfig:
    """How a fixed-slot model reads (fast-plate-ocr's plate config).

    Attributes:
        slots: characters per plate at most (`max_plate_slots`).
        alphabet: the classes of each slot, pad included.
        pad_char: the class meaning "no character".
        height, width: input size in px (`img_height`, `img_width`).
        colour: `rgb` or `grayscale` (`image_color_mode`).
        keep_aspect: letterbox instead of a plain resize (`keep_aspect_ratio`).
        padding_colour: letterbox fill, RGB (`padding_color`).
        decoder: `slots` (one character or pad per slot, fast-plate-ocr) or `ctc` (the slots are CTC time
            steps in reading order, the pad class is the blank; OVR-ALPR's `ctc` reader).
    """

    slots: int
    alphabet: str = FAST_PLATE_OCR_ALPHABET
    pad_char: str = "_"
    height: int = 64
    width: int = 128
    colour: str = "rgb"
    keep_aspect: bool = False
    padding_colour: tuple[int, int, int] = (114, 114, 114)
    decoder: str = "slots"

    @classmethod
    def from_mapping(cls, d: dict[str, Any]) -> PlateConfig:
        try:
            pad = tuple(d.get("padding_color", (114, 114, 114)))
            if len(pad) == 1:
                pad = pad * 3
            return cls(
                slots=int(d["max_plate_slots"]),
                alphabet=str(d.get("alphabet", FAST_PLATE_OCR_ALPHABET)),
                pad_char=str(d.get("pad_char", "_")),
                height=int(d.get("img_height", 64)),
                width=int(d.get("img_width", 128)),
                colour=str(d.get("image_color_mode", "rgb")).lower(),
                keep_aspect=bool(d.get("keep_aspect_ratio", False)),
                padding_colour=tuple(int(v) for v in pad),  # type: ignore[arg-type]
                decoder=str(d.get("decoder", "slots")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"plate config is missing or has a bad value: {exc}",
                "give max_plate_slots, alphabet, pad_char, img_height, img_width",
            ) from exc

    @classmethod
    def from_yaml(cls, path: str | Path) -> PlateConfig:
        import yaml

        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"ocr.plate_config {p} does not exist", "give the model's plate config YAML")
        return cls.from_mapping(yaml.safe_load(p.read_text()) or {})

    @classmethod
    def for_backend(cls, backend: InferenceBackend, path: str | Path | None = None) -> PlateConfig:
        if path:
            return cls.from_yaml(path)
        meta = getattr(backend, "metadata", None) or {}
        if "plate_config" in meta:
            return cls.from_mapping(json.loads(meta["plate_config"]))
        shape = tuple(getattr(backend, "input_shape", ()) or ())
        out_shapes = list(getattr(backend, "output_shapes", []) or [])
        if len(shape) != 4 or shape[3] not in (1, 3) or shape[1] <= 0 or shape[2] <= 0:
            raise ModelError(
                f"{getattr(backend, 'model_path', 'model')} is not an NHWC fixed-slot plate model",
                "give its plate config YAML as ocr.plate_config",
            )
        n_classes = len(FAST_PLATE_OCR_ALPHABET)
        total = int(np.prod([d for d in out_shapes[0][1:] if d > 0])) if out_shapes else 0
        if total <= 0 or total % n_classes:
            raise ModelError(
                f"cannot tell the slots of {getattr(backend, 'model_path', 'model')} from its output shape",
                "give its plate config YAML as ocr.plate_config",
            )
        return cls(
            slots=total // n_classes,
            height=shape[1],
            width=shape[2],
            colour="rgb" if shape[3] == 3 else "grayscale",
        )


BoxVariant = Literal["full", "tight", "loose"]


def agreed_read(reads: list[PlateText], best: PlateText | None = None) -> PlateText:
    """The most confident of one crop's variant reads (or `best`), its confidence weighted by how far they
    agree.

    The text (and its alternatives) is the most confident read's. Each of its characters keeps the summed
    probability of the variants that read the same character at the same place (same length) over the
    number of variants, as track fusion weighs frames: where the variants agree it is their mean
    probability, where one of two disagrees at most half of it. A read that a 2-pixel change of the box
    flips is a coin toss (on the OpenALPR US set half of them are wrong, against 7 % of the reads both
    variants agree on), and `ocr.min_confidence` can only hold such reads back if their confidence says so.

    Example:
        >>> a = PlateText("AB12", 0.9, (0.9, 0.9, 0.9, 0.9))
        >>> b = PlateText("A812", 0.8, (0.9, 0.5, 0.9, 0.9))
        >>> agreed_read([a, b]).char_confidences
        (0.9, 0.45, 0.9, 0.9)
    """
    best = best if best is not None else max(reads, key=lambda r: r.confidence)
    if len(reads) < 2 or not best.text:
        return best
    same = [r for r in reads if len(r.text) == len(best.text)]
    confs = tuple(
        sum(r.char_confidences[i] for r in same if r.text[i] == ch) / len(reads)
        for i, ch in enumerate(best.text)
    )
    return PlateText(best.text, float(np.mean(confs)), confs, best.char_alternatives)


class _FixedSlotConfig(OcrConfig):
    """What both fixed-slot reader types take: the plate config YAML (default: from the model),
    `box_variants`, versions of each crop read in one batch, the most confident read kept with its
    confidence weighted by how far the variants agree (`agreed_read`): `full` (as cut), `tight` (cut in 3 %
    of the width and 8 % of the height on each side), `loose` (grown as much); and `recheck_grid`: when those
    reads disagree, the crop is read again cut in on an n x n grid (from as cut to `tight`) and the text most
    of the reads agree on wins (`voted_read`); 0 = never; `second_opinion`: a second model that reads the
    crops this one reads with a confidence under its `below`, its read kept when it is at least that sure
    (module `ocr.second`); None = never."""

    plate_config: str | None = None
    box_variants: list[BoxVariant] = Field(default_factory=lambda: ["full"], min_length=1)
    recheck_grid: int = Field(0, ge=0, le=6)
    second_opinion: SecondOpinionConfig | None = None


class FastPlateOcrConfig(_FixedSlotConfig):
    """A fast-plate-ocr-style fixed-slot model (`model.path` required); read once per crop by default."""

    type: Literal["fast_plate_ocr"] = "fast_plate_ocr"


class OvrReaderConfig(_FixedSlotConfig):
    """OVR-ALPR's own fixed-slot reader (`ovr-alpr train reader`); its plate config is in the model. By
    default a crop is read as cut and cut in (two reads in one batch), and when those two disagree, again
    on a 3 x 3 grid of cuts with a vote (see the model card: how far a read holds when the box moves by a
    pixel or two decides most US misses). A crop read with confidence under 0.9 is read again by the
    embedded reader trained on smeared plates (`second_opinion`; its model card), whose read is kept when it
    is at least 0.9 sure."""

    type: Literal["ovr"] = "ovr"
    box_variants: list[BoxVariant] = Field(default_factory=lambda: ["full", "tight"], min_length=1)
    recheck_grid: int = Field(3, ge=0, le=6)
    second_opinion: SecondOpinionConfig | None = Field(default_factory=SecondOpinionConfig)


class OvrContextReaderConfig(OvrReaderConfig):
    """`ocr.type: ovr_context`: the embedded reader whose columns see their whole line (`--context 3`,
    trained on this project's CPU alone; `assets/plate_reader_context.md`). It reads a round glyph among
    letters as O and among digits as 0, as the plate prints it, where the default reader writes 0 for both:
    EU photos strictly 90.7 against 85.2 %, US 91.0 against 91.9 % (one plate), with the same reading
    settings and second opinion as `ovr`."""

    type: Literal["ovr_context"] = "ovr_context"


@READERS.register("fast_plate_ocr", config=FastPlateOcrConfig)
class FixedSlotReader:
    """Reads plates with a fixed-slot model (fast-plate-ocr's output layout).

    Characters outside `alphabet` are masked out before the argmax. Each read carries per-character
    probabilities and the runner-up characters, so format repair and fusion work as with the CTC reader.
    Each crop is read as each of `variants` (`BOX_VARIANTS`: as cut, tighter, looser) in one batch and the
    most confident read is kept, its confidence weighted by how far the variants agree (`agreed_read`); the
    default reads it once, as cut. With `recheck_grid` n >= 2, a crop whose variant reads disagree is read
    again cut in on an n x n grid (`grid_cuts`, the cuts already read not again) and the text most reads
    agree on wins (`voted_read`): spending reads where a pixel of box decides the text.

    Args:
        backend: the loaded model: uint8 [N, H, W, C] in, probabilities [N, slots * classes] out.
        alphabet: characters a plate may contain.
        plate_config: the model's plate config YAML (default: from the model, see the module docstring).
        n_alternatives: runner-ups kept per character.
    """

    embedded_model: str | None = None
    embedded_second_model: str | None = None

    @classmethod
    def default_model(cls) -> Path:
        if cls.embedded_model is None:
            raise ConfigError(
                f"ocr.type {cls.__name__} has no embedded model", "set ocr.model.path to the model file"
            )
        return default_model_path(cls.embedded_model)

    @classmethod
    def second_default_model(cls) -> Path:
        """The embedded model `ocr.second_opinion` uses when its `path` is unset."""
        if cls.embedded_second_model is None:
            raise ConfigError(
                f"ocr.type {cls.__name__} has no embedded second model",
                "set ocr.second_opinion.path to the model file, or ocr.second_opinion to null",
            )
        return default_model_path(cls.embedded_second_model)

    @classmethod
    def from_config(
        cls, cfg: FastPlateOcrConfig | OvrReaderConfig, backend: InferenceBackend
    ) -> FixedSlotReader:
        return cls(
            backend,
            alphabet=cfg.alphabet,
            plate_config=cfg.plate_config,
            variants=cfg.box_variants,
            recheck_grid=cfg.recheck_grid,
        )

    def __init__(
        self,
        backend: InferenceBackend,
        alphabet: str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        variants: tuple[str, ...] | list[str] = ("full",),
        plate_config: str | Path | PlateConfig | None = None,
        n_alternatives: int = 3,
        recheck_grid: int = 0,
    ) -> None:
        self.backend = backend
        self.config = (
            plate_config
            if isinstance(plate_config, PlateConfig)
            else PlateConfig.for_backend(backend, plate_config)
        )
        unknown = set(variants) - set(BOX_VARIANTS)
        if unknown or not variants:
            raise ValueError(f"crop variants {sorted(unknown) or '[]'}: pick from {', '.join(BOX_VARIANTS)}")
        self.variants = tuple(variants)
        read = {VARIANT_CUTS[v] for v in self.variants}
        self._recheck_cuts = [c for c in grid_cuts(recheck_grid) if c not in read]
        self.n_alternatives = n_alternatives
        classes = np.array(list(self.config.alphabet))
        wanted = set(alphabet.upper())
        self._pad = self.config.alphabet.index(self.config.pad_char)
        self._allowed = np.array([c in wanted or i == self._pad for i, c in enumerate(classes)])
        self._labels = classes

    def _prepare(self, crop: np.ndarray) -> np.ndarray:
        c = self.config
        if c.keep_aspect:
            h, w = crop.shape[:2]
            scale = min(c.width / max(w, 1), c.height / max(h, 1))
            nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
            canvas = np.empty((c.height, c.width, 3), np.uint8)
            canvas[:] = c.padding_colour[::-1]
            y0, x0 = (c.height - nh) // 2, (c.width - nw) // 2
            canvas[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_LINEAR)
            image = canvas
        else:
            image = cv2.resize(crop, (c.width, c.height), interpolation=cv2.INTER_LINEAR)
        if c.colour == "grayscale":
            return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[..., None]
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def read(self, crop: np.ndarray) -> PlateText:
        return self.read_batch([crop])[0]

    def read_batch(self, crops: list[np.ndarray]) -> list[PlateText]:
        if not crops:
            return []
        k = len(self.variants)
        reads = self._read([box_variant(c, v) for c in crops for v in self.variants])
        groups = [reads[i * k : (i + 1) * k] for i in range(len(crops))]
        out = [agreed_read(g) for g in groups]
        doubts = [i for i, g in enumerate(groups) if len({r.text for r in g}) > 1]
        if doubts and self._recheck_cuts:
            m = len(self._recheck_cuts)
            more = self._read([cut_in(crops[i], *cut) for i in doubts for cut in self._recheck_cuts])
            for j, i in enumerate(doubts):
                out[i] = voted_read(groups[i] + more[j * m : (j + 1) * m])
        return out

    def _read(self, images: list[np.ndarray]) -> list[PlateText]:
        """One batch through the model, one read per image."""
        batch = np.stack([self._prepare(image) for image in images])
        probs = np.asarray(self.backend(batch)[0], dtype=np.float32)
        probs = probs.reshape(len(images), self.config.slots, len(self.config.alphabet))
        return [self._decode(p) for p in probs]

    def warmup(self) -> None:
        c = self.config
        self.backend(np.zeros((1, c.height, c.width, 1 if c.colour == "grayscale" else 3), np.uint8))

    def _decode(self, probs: np.ndarray, min_alternative_p: float = 1e-4) -> PlateText:
        if self.config.decoder == "ctc":
            return self._decode_ctc(probs, min_alternative_p)
        p = np.where(self._allowed[None, :], probs, 0.0)
        best = p.argmax(axis=1)
        chars, char_p, alternatives = [], [], []
        for slot, cls in enumerate(best):
            if cls == self._pad:
                continue
            chars.append(str(self._labels[cls]))
            char_p.append(float(p[slot, cls]))
            runner = p[slot].copy()
            runner[cls] = 0.0
            runner[self._pad] = 0.0
            top = np.argsort(-runner)[: self.n_alternatives]
            alternatives.append(
                tuple((str(self._labels[j]), float(runner[j])) for j in top if runner[j] >= min_alternative_p)
            )
        conf = float(np.mean(char_p)) if char_p else 0.0
        return PlateText("".join(chars), conf, tuple(char_p), tuple(alternatives))

    def _decode_ctc(self, probs: np.ndarray, min_alternative_p: float) -> PlateText:
        """Greedy CTC over the time steps: repeats collapse, blanks (pad) separate; a character's probability
        is its best step's, its alternatives the best other classes over its steps."""
        p = np.where(self._allowed[None, :], probs, 0.0)
        best = p.argmax(axis=1)
        chars, char_p, alternatives = [], [], []
        for t0, t1 in greedy_spans(best):
            cls = best[t0]
            if cls == self._pad:
                continue
            span = p[t0:t1].max(axis=0)
            chars.append(str(self._labels[cls]))
            char_p.append(float(span[cls]))
            span[cls] = 0.0
            span[self._pad] = 0.0
            top = np.argsort(-span)[: self.n_alternatives]
            alternatives.append(
                tuple((str(self._labels[j]), float(span[j])) for j in top if span[j] >= min_alternative_p)
            )
        conf = float(np.mean(char_p)) if char_p else 0.0
        return PlateText("".join(chars), conf, tuple(char_p), tuple(alternatives))


@READERS.register("ovr", config=OvrReaderConfig)
class OvrPlateReader(FixedSlotReader):
    """OVR-ALPR's own plate reader (trained by `ovr-alpr train reader`, shipped in `ovr_alpr/assets/`)."""

    embedded_model = "reader"
    embedded_second_model = "reader_blur"


@READERS.register("ovr_context", config=OvrContextReaderConfig)
class OvrContextPlateReader(OvrPlateReader):
    """OVR-ALPR's reader with row context (`ocr.type: ovr_context`), with the default reader's second
    opinion."""

    embedded_model = "reader_context"
