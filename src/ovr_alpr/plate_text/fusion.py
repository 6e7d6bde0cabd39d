"""Fusion of several reads of one plate into one: a character-wise vote weighted by confidence."""

from __future__ import annotations

from collections import defaultdict

from .text import PlateText


def fuse_reads(reads: list[PlateText]) -> PlateText:
    """Fuse reads of one track.

    The length with the most summed confidence wins; reads of that length then vote position by position,
    each character weighted by its own probability. The fused confidence of a position is the summed
    probability of the winning character over the number of reads (of any length), so disagreement and
    uncertainty both lower it; a lone read keeps its own confidence.

    Example:
        >>> a = PlateText("AB123", 0.9, (0.9,) * 5)
        >>> b = PlateText("A8123", 0.6, (0.9, 0.3, 0.9, 0.9, 0.9))
        >>> fuse_reads([a, a, b]).text
        'AB123'
    """
    reads = [r for r in reads if r.text]
    if not reads:
        return PlateText("", 0.0)
    by_len: dict[int, list[PlateText]] = defaultdict(list)
    for r in reads:
        by_len[len(r.text)].append(r)
    length, group = max(by_len.items(), key=lambda kv: (sum(r.confidence for r in kv[1]), len(kv[1]), kv[0]))
    total_weight = float(len(reads))
    chars, confs = [], []
    for i in range(length):
        votes: dict[str, list[float]] = defaultdict(list)
        for r in group:
            p = r.char_confidences[i] if i < len(r.char_confidences) else r.confidence
            votes[r.text[i]].append(p)
        char, ps = max(votes.items(), key=lambda kv: (sum(kv[1]), len(kv[1])))
        chars.append(char)
        confs.append(sum(ps) / total_weight)
    conf = sum(confs) / len(confs)
    return PlateText("".join(chars), float(conf), tuple(confs))
