"""Accuracy measures of `ovr-alpr eval`: one-to-one box matching, the read scored per label, exact match, CER.

The rule that picks which read is scored against a labelled plate (`pick_reads`):

1. Reads and labels are matched one-to-one at IoU >= 0.5, most confident read first (COCO-style greedy
   matching, the same matching that counts detection true positives). A label matched this way is scored
   against its matched read.
2. A label left unmatched is scored against the most confident read (detection confidence) that has text
   and is matched to no other label: a detector box that misses the labelled box by too much, but
   read the right plate, still counts as a correct read.
3. With no such read, the label's read is "" (a miss).

Detection recall is also reported by plate size (`SIZE_BUCKETS`, by the labelled box's width in pixels of
the image as given): `small` under 64 px (a far plate: 64 px is where the readers start to fail),
`medium` 64-279 px, `closeup` 280 px and wider (a gate or barrier camera; on real handheld clips the
current detector boxed only part of such plates).

A read equals its label when both, upper-cased and stripped to A-Z0-9, are the same string. A second,
looser rate (`exact_match_confusable`) also maps O->0 and I->1 first: many plate fonts draw these alike
and the OpenALPR labels themselves mix them up, so it separates reading errors from that ambiguity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz.distance import Levenshtein

from ..detect.ops import iou_matrix
from ..plate_text.text import fold_confusables, normalize_text

#: Minimum IoU for a read's box to count as the labelled plate's box.
IOU_THRESHOLD = 0.5

#: Plate-size buckets of the recall split: (name, smallest width px, first width px of the next bucket).
SIZE_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("small", 0.0, 64.0),
    ("medium", 64.0, 280.0),
    ("closeup", 280.0, float("inf")),
)


def size_bucket(width_px: float) -> str:
    """The `SIZE_BUCKETS` name of a plate `width_px` wide.

    Example:
        >>> size_bucket(40), size_bucket(150), size_bucket(300)
        ('small', 'medium', 'closeup')
    """
    for name, low, high in SIZE_BUCKETS:
        if low <= width_px < high:
            return name
    return SIZE_BUCKETS[0][0]  # negative widths (broken labels) count as small


@dataclass
class SizeRecall:
    """Labelled plates and those detected (IoU >= 0.5), per `SIZE_BUCKETS` bucket."""

    labels: dict[str, int] = field(default_factory=lambda: {name: 0 for name, _, _ in SIZE_BUCKETS})
    detected: dict[str, int] = field(default_factory=lambda: {name: 0 for name, _, _ in SIZE_BUCKETS})

    def add(self, width_px: float, detected: bool) -> None:
        bucket = size_bucket(width_px)
        self.labels[bucket] += 1
        self.detected[bucket] += bool(detected)

    def to_dict(self) -> dict[str, dict[str, float | int | None]]:
        """{bucket: {"labels", "detected", "recall" (None when no label)}} in `SIZE_BUCKETS` order."""
        return {
            name: {
                "labels": self.labels[name],
                "detected": self.detected[name],
                "recall": round(self.detected[name] / self.labels[name], 4) if self.labels[name] else None,
            }
            for name, _, _ in SIZE_BUCKETS
        }


def size_buckets_doc() -> str:
    """One line saying what the buckets are, for reports."""
    parts = []
    for name, low, high in SIZE_BUCKETS:
        parts.append(f"{name} >= {low:.0f} px" if high == float("inf") else f"{name} < {high:.0f} px")
    return "plate width: " + ", ".join(parts)


def exact_match(read: str, label: str) -> bool:
    """True when `read` and `label` are the same plate, ignoring case, spaces and separators.

    Example:
        >>> exact_match("ab-123 cd", "AB123CD")
        True
    """
    return normalize_text(read) == normalize_text(label)


def confusable_match(read: str, label: str) -> bool:
    """`exact_match` after mapping O->0 and I->1 on both sides.

    Example:
        >>> confusable_match("RK099AN", "RKO99AN")
        True
    """
    return fold_confusables(read) == fold_confusables(label)


def char_errors(read: str, label: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions) between the normalised texts."""
    return Levenshtein.distance(normalize_text(read), normalize_text(label))


def cer(read: str, label: str) -> float:
    """Character error rate of one read: edits / label length (0 = perfect; can exceed 1)."""
    n = len(normalize_text(label))
    errors = char_errors(read, label)
    if n == 0:
        return 0.0 if errors == 0 else float(errors)
    return errors / n


def match_boxes(
    pred_xyxy: np.ndarray, pred_conf: np.ndarray, label_xyxy: np.ndarray, iou_threshold: float = IOU_THRESHOLD
) -> np.ndarray:
    """One-to-one matching of predicted boxes to labelled boxes, most confident prediction first.

    Each prediction takes the still-free label it overlaps most, if that IoU is at least `iou_threshold`;
    a label is taken by one prediction at most, so a duplicate box counts as a false positive.

    Returns:
        int64 (M,) per label: index of the prediction matched to it, -1 when none.

    Example:
        >>> match_boxes(np.array([[0, 0, 10, 10.0]]), np.array([0.9]), np.array([[0, 0, 10, 9.0]]))
        array([0])
    """
    pred_xyxy = np.asarray(pred_xyxy, dtype=np.float32).reshape(-1, 4)
    label_xyxy = np.asarray(label_xyxy, dtype=np.float32).reshape(-1, 4)
    matched = np.full(len(label_xyxy), -1, dtype=np.int64)
    if len(pred_xyxy) == 0 or len(label_xyxy) == 0:
        return matched
    ious = iou_matrix(pred_xyxy, label_xyxy)
    for i in np.argsort(-np.asarray(pred_conf, dtype=np.float32), kind="stable"):
        free = np.where(matched < 0, ious[i], -1.0)
        j = int(free.argmax())
        if free[j] >= iou_threshold:
            matched[j] = i
    return matched


def pick_reads(
    pred_xyxy: np.ndarray, pred_conf: np.ndarray, pred_texts: Sequence[str], label_xyxy: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Which read is scored against each label (the rule in this module's docstring).

    Returns:
        box_match: int64 (M,) per label, the read matched at IoU >= 0.5 (-1 = none): detection hits.
        text_pick: int64 (M,) per label, the read scored for text (-1 = none: the read is "").
    """
    box_match = match_boxes(pred_xyxy, pred_conf, label_xyxy)
    text_pick = box_match.copy()
    used = set(box_match[box_match >= 0].tolist())
    order = np.argsort(-np.asarray(pred_conf, dtype=np.float32), kind="stable")
    for j in np.flatnonzero(text_pick < 0):
        for i in order:
            if int(i) not in used and pred_texts[int(i)]:
                text_pick[j] = int(i)
                used.add(int(i))
                break
    return box_match, text_pick


@dataclass(frozen=True)
class PlateOutcome:
    """How one labelled plate fared.

    Attributes:
        file: the image.
        expected: the label's text ("" when the dataset has no text labels).
        read: the text of the read scored against it ("" when none).
        detected: a read's box matched the label at IoU >= 0.5.
        label_xyxy: the labelled box in px.
        read_xyxy: the scored read's box in px, None when none.
        confidence: the scored read's OCR confidence 0..1, None when none.
    """

    file: str
    expected: str
    read: str
    detected: bool
    label_xyxy: tuple[float, float, float, float]
    read_xyxy: tuple[float, float, float, float] | None = None
    confidence: float | None = None

    @property
    def has_text(self) -> bool:
        return bool(normalize_text(self.expected))

    @property
    def correct(self) -> bool:
        return self.has_text and exact_match(self.read, self.expected)


@dataclass
class Tally:
    """Accumulates outcomes over a dataset and turns them into the reported figures."""

    images: int = 0
    labels: int = 0
    predictions: int = 0
    true_positives: int = 0
    text_labels: int = 0
    text_correct: int = 0
    text_correct_confusable: int = 0
    char_errors: int = 0
    label_chars: int = 0
    by_size: SizeRecall = field(default_factory=SizeRecall)

    def add(self, outcomes: Sequence[PlateOutcome], n_predictions: int) -> None:
        self.images += 1
        self.labels += len(outcomes)
        self.predictions += n_predictions
        self.true_positives += sum(o.detected for o in outcomes)
        for o in outcomes:
            self.by_size.add(o.label_xyxy[2] - o.label_xyxy[0], o.detected)
            if o.has_text:
                self.text_labels += 1
                self.text_correct += o.correct
                self.text_correct_confusable += confusable_match(o.read, o.expected)
                self.char_errors += char_errors(o.read, o.expected)
                self.label_chars += len(normalize_text(o.expected))

    @property
    def exact_match(self) -> float | None:
        """Fraction of text-labelled plates read exactly; None when no label has text."""
        return self.text_correct / self.text_labels if self.text_labels else None

    @property
    def exact_match_confusable(self) -> float | None:
        """Like `exact_match`, with O/0 and I/1 counted as the same character."""
        return self.text_correct_confusable / self.text_labels if self.text_labels else None

    @property
    def cer(self) -> float | None:
        """Corpus character error rate: all edits / all label characters; None when no label has text."""
        return self.char_errors / self.label_chars if self.label_chars else None

    @property
    def detection_recall(self) -> float | None:
        return self.true_positives / self.labels if self.labels else None

    @property
    def detection_precision(self) -> float | None:
        return self.true_positives / self.predictions if self.predictions else None


#: OCR confidence thresholds of the reads-by-confidence table (`reads_by_confidence`).
CONFIDENCE_THRESHOLDS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def reads_by_confidence(
    outcomes: Sequence[PlateOutcome], thresholds: Sequence[float] = CONFIDENCE_THRESHOLDS
) -> list[dict[str, float | int | None]]:
    """What a confidence threshold would publish: per threshold, of the text-labelled plates, how many got a
    read at or above it (`published`, `share` of all), how many of those are right and wrong, and
    `precision` (right / published; None when nothing is published). A wrong read costs more than no read,
    so this is what `ocr.min_confidence` trades.
    """
    scored = [(o.confidence or 0.0, o.correct) for o in outcomes if o.has_text and o.read]
    return published_by_confidence(scored, sum(o.has_text for o in outcomes), thresholds)


def published_by_confidence(
    scored: Sequence[tuple[float, bool]], total: int, thresholds: Sequence[float] = CONFIDENCE_THRESHOLDS
) -> list[dict[str, float | int | None]]:
    """The rows of `reads_by_confidence` from (confidence, right) per published read, of `total` plates."""
    rows = []
    for t in thresholds:
        kept = [ok for c, ok in scored if c >= t]
        right = sum(kept)
        rows.append(
            {
                "threshold": t,
                "published": len(kept),
                "right": right,
                "wrong": len(kept) - right,
                "share": len(kept) / total if total else None,
                "precision": right / len(kept) if kept else None,
            }
        )
    return rows


#: Why a labelled plate was not read exactly (see `miss_cause`).
MISS_CAUSES = ("detector", "reader", "label doubt")


def miss_cause(read: str, label: str, detected: bool) -> str:
    """`label doubt` when the read equals the label once O=0 and I=1 (glyphs drawn alike; the benchmark's
    labels mix them), else `detector` when no box matched the label at IoU >= 0.5, else `reader`.

    Example:
        >>> miss_cause("RK099AN", "RKO99AN", True), miss_cause("", "AB123", False)
        ('label doubt', 'detector')
        >>> miss_cause("A8123", "AB123", True)
        'reader'
    """
    if read and confusable_match(read, label):
        return "label doubt"
    return "reader" if detected else "detector"


def char_confusions(pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Character errors over (label, read) pairs: (label char, read char) -> count, `-` standing for a
    missing (deleted) or extra (inserted) character; most frequent first."""
    counts: dict[tuple[str, str], int] = {}
    for label, read in pairs:
        a, b = normalize_text(label), normalize_text(read)
        for op in Levenshtein.editops(a, b):
            key = (
                a[op.src_pos] if op.tag != "insert" else "-",
                b[op.dest_pos] if op.tag != "delete" else "-",
            )
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
