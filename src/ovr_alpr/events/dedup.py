"""Fuzzy de-duplication of plate reads per camera within a time window (rapidfuzz)."""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime

from rapidfuzz import fuzz


class Deduplicator:
    """Says whether a read repeats one already published on the same camera recently.

    Args:
        similarity: 0..1; reads with `rapidfuzz.fuzz.ratio / 100 >= similarity` are the same plate.
        window_s: seconds (of frame time) a published read suppresses similar ones.
    """

    def __init__(self, similarity: float = 0.85, window_s: float = 300.0) -> None:
        self.similarity = similarity * 100.0
        self.window_s = window_s
        self._recent: dict[str, deque[tuple[datetime, str]]] = defaultdict(deque)

    def is_duplicate(self, camera_id: str, text: str, at: datetime) -> bool:
        """True if similar to a recent read of `camera_id`; else remembers `text` and returns False."""
        recent = self._recent[camera_id]
        while recent and (at - recent[0][0]).total_seconds() > self.window_s:
            recent.popleft()
        for _, seen in recent:
            if fuzz.ratio(text, seen) >= self.similarity:
                return True
        recent.append((at, text))
        return False

    def __len__(self) -> int:
        return sum(len(v) for v in self._recent.values())
