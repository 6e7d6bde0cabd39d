"""Plate formats (`LLDDDLL`-style templates) and the repair of reads that fit none of them.

A template is a string of character classes: `L` a letter, `D` a digit, `X` either; a class may carry a
count, `L{2}` or `L{1,3}`, so `L{1,3}D{1,4}` stands for every template from `LD` to `LLLDDDD`.

A read that fits no template is repaired, when it can be, with the cheapest of these edits:

- swapping a character for its look-alike of the other class (`0`->`O`, `O`->`0`, `8`->`B`, ... see
  `LOOK_ALIKES`), where the template wants a letter and a digit was read, or the other way round;
- deleting a character (the blue EU country band read as a letter, an emblem or sticker between the groups
  read as `8` or `B`).

Each edit costs how much less likely the OCR model found the result, in nats: a swap `c`->`a` costs
`ln(p(c) / p(a))` with `p(a)` the model's probability of `a` at that character
(`PlateText.char_alternatives`), a deletion costs `ln(p(c) / (1 - p(c)))` plus `deletion_penalty`.
Uncertain characters are thus changed first, and of two look-alikes the one the model also saw wins.
Without alternatives, `p(a)` is taken as `1 - p(c)`; without confidences, every character as certain.
At most `max_edits` edits, at most `max_deletions` of them deletions; when two different repairs cost the
same, the read is left alone (nothing tells them apart).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

#: Look-alike characters of the other class: digit read where a letter belongs, and the reverse.
DIGIT_TO_LETTER = {"0": "O", "1": "I", "2": "Z", "4": "A", "5": "S", "6": "G", "7": "T", "8": "B"}
LETTER_TO_DIGIT = {
    "O": "0",
    "Q": "0",
    "D": "0",
    "I": "1",
    "Z": "2",
    "A": "4",
    "S": "5",
    "G": "6",
    "T": "7",
    "B": "8",
}
LOOK_ALIKES = {**DIGIT_TO_LETTER, **LETTER_TO_DIGIT}

_TOKEN = re.compile(r"([LDX])(?:\{(\d+)(?:,(\d+))?\})?")
_MAX_EXPANSIONS = 512


def expand_template(template: str) -> list[str]:
    """All fixed-length class strings of a template: `"L{1,2}D"` -> `["LD", "LLD"]`.

    Raises:
        ValueError: the template has characters other than `L`, `D`, `X` and `{m}` / `{m,n}` counts, or
            expands to more than 512 fixed templates.
    """
    spec = template.replace(" ", "").upper()
    parts: list[list[str]] = []
    pos = 0
    for m in _TOKEN.finditer(spec):
        if m.start() != pos:
            break
        lo = int(m.group(2)) if m.group(2) else 1
        hi = int(m.group(3)) if m.group(3) else lo
        if hi < lo or hi > 12:
            raise ValueError(f"plate format {template!r}: bad count {m.group(0)!r}")
        parts.append([m.group(1) * n for n in range(lo, hi + 1)])
        pos = m.end()
    if pos != len(spec) or not parts:
        raise ValueError(f"plate format {template!r}: use L (letter), D (digit), X (either), {{m,n}} counts")
    out: list[str] = []
    for combo in itertools.product(*parts):
        fixed = "".join(combo)
        if fixed and fixed not in out:
            out.append(fixed)
        if len(out) > _MAX_EXPANSIONS:
            raise ValueError(f"plate format {template!r} expands to more than {_MAX_EXPANSIONS} templates")
    return out


def _fits_class(char: str, cls: str) -> bool:
    if cls == "X":
        return char.isalnum()
    return char.isdigit() if cls == "D" else char.isalpha()


def fits(text: str, fixed: str) -> bool:
    """Whether `text` fits one fixed template (no counts): `fits("AB123", "LLDDD")` is True."""
    return len(text) == len(fixed) and all(_fits_class(c, k) for c, k in zip(text, fixed, strict=True))


@dataclass(frozen=True)
class Repair:
    """A read fitted to a template.

    Attributes:
        text: the repaired text.
        region: the region whose template it fits.
        template: that fixed template.
        cost: summed confidence of the changed characters (0 when the read fitted as it was).
        edits: number of characters changed or deleted.
    """

    text: str
    region: str
    template: str
    cost: float
    edits: int


class FormatBank:
    """Templates per region, and the repair of reads against them.

    Args:
        formats: region name -> templates (see the module docstring for the syntax).
        max_edits: most characters one repair may change or delete.
        max_deletions: most characters one repair may delete.
        deletion_penalty: nats added to the cost of each deletion (a deletion changes the length, a bigger
            step than a look-alike swap).

    Example:
        >>> bank = FormatBank({"sk": ["LLDDDLL"]})
        >>> bank.repair("PP587A0").text
        'PP587AO'
        >>> bank.repair("BLM010BE", (0.6, 1, 1, 1, 1, 1, 1, 1)).text
        'LM010BE'
    """

    def __init__(
        self,
        formats: dict[str, list[str]],
        max_edits: int = 2,
        max_deletions: int = 1,
        deletion_penalty: float = 1.0,
    ) -> None:
        self.templates: dict[int, list[tuple[str, str]]] = {}
        for region, specs in formats.items():
            for spec in specs:
                for fixed in expand_template(spec):
                    self.templates.setdefault(len(fixed), []).append((region, fixed))
        self.max_edits = max_edits
        self.max_deletions = max_deletions
        self.deletion_penalty = deletion_penalty

    def __bool__(self) -> bool:
        return bool(self.templates)

    def match(self, text: str) -> str | None:
        """The first region with a template that `text` fits as it is, else None."""
        for region, fixed in self.templates.get(len(text), []):
            if fits(text, fixed):
                return region
        return None

    def repair(
        self,
        text: str,
        char_confidences: Sequence[float] | None = None,
        char_alternatives: Sequence[Sequence[tuple[str, float]]] | None = None,
    ) -> Repair | None:
        """The cheapest repair of `text` (itself when it fits), or None when there is none or it is ambiguous.

        Args:
            text: normalised read (upper-case alphanumerics).
            char_confidences: OCR probability of each character (certain when not given).
            char_alternatives: per character, other characters and their probabilities (see `PlateText`).
        """
        region = self.match(text)
        if region is not None:
            return Repair(text, region, "", 0.0, 0)
        if not self.templates:
            return None
        n = len(text)
        conf = [min(max(float(p), _P_FLOOR), 1.0) for p in char_confidences or ()]
        if len(conf) != n:
            conf = [1.0] * n
        alts = list(char_alternatives or ())
        alt_p: list[dict[str, float] | None] = [dict(a) for a in alts] if len(alts) == n else [None] * n
        best: list[Repair] = []
        for n_del in range(0, min(self.max_deletions, self.max_edits, len(text) - 1) + 1):
            candidates = self.templates.get(len(text) - n_del, [])
            if not candidates:
                continue
            for dropped in itertools.combinations(range(len(text)), n_del):
                kept = [i for i in range(len(text)) if i not in dropped]
                base_cost = sum(_nats(conf[i], 1.0 - conf[i]) + self.deletion_penalty for i in dropped)
                for region, fixed in candidates:
                    found = self._swap(text, conf, alt_p, kept, fixed, self.max_edits - n_del)
                    if found is None:
                        continue
                    repaired, swap_cost, swaps = found
                    rep = Repair(repaired, region, fixed, base_cost + swap_cost, n_del + swaps)
                    if not best or rep.cost < best[0].cost - 1e-9:
                        best = [rep]
                    elif abs(rep.cost - best[0].cost) <= 1e-9:
                        best.append(rep)
        if not best or len({r.text for r in best}) > 1:
            return None
        return best[0]

    @staticmethod
    def _swap(
        text: str,
        conf: list[float],
        alt_p: list[dict[str, float] | None],
        kept: list[int],
        fixed: str,
        budget: int,
    ) -> tuple[str, float, int] | None:
        out, cost, swaps = [], 0.0, 0
        for i, cls in zip(kept, fixed, strict=True):
            c = text[i]
            if _fits_class(c, cls):
                out.append(c)
                continue
            alt = LOOK_ALIKES.get(c)
            swaps += 1
            if alt is None or swaps > budget:
                return None
            out.append(alt)
            seen = alt_p[i]
            cost += _nats(conf[i], seen.get(alt, 0.0) if seen is not None else 1.0 - conf[i])
        return "".join(out), cost, swaps


_P_FLOOR = 1e-4


def _nats(p_read: float, p_other: float) -> float:
    """How much less likely (ln ratio, >= 0) the model found `p_other` than what it read."""
    return max(0.0, math.log(max(p_read, _P_FLOOR) / max(p_other, _P_FLOOR)))
