"""Watchlist matching: plain plates within a fuzzy tolerance, or patterns with `*` and `?` wildcards."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from ..store import Watchlist, WatchlistEntry, normalize_plate  # noqa: F401  (doctest)

LABELS = ("allow", "deny", "watch")
PATTERN_RE = re.compile(r"^[A-Za-z0-9*? -]{1,32}$")


@dataclass(frozen=True)
class Hit:
    watchlist: str
    label: str
    pattern: str
    distance: int


def _compile(pattern: str) -> re.Pattern[str] | None:
    """A wildcard pattern as a regex, or None for a plain plate."""
    text = pattern.upper().replace(" ", "").replace("-", "")
    if "*" not in text and "?" not in text:
        return None
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text) + r"\Z")


class WatchMatcher:
    """Matches plates against all watchlists; `load` replaces them (thread-safe).

    Example:
        >>> m = WatchMatcher([Watchlist("stolen", "deny", 1, (WatchlistEntry("AB123CD"),))])
        >>> m.match("AB123CO")
        [Hit(watchlist='stolen', label='deny', pattern='AB123CD', distance=1)]
    """

    def __init__(self, watchlists: list[Watchlist] | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[tuple[Watchlist, str, str, re.Pattern[str] | None]] = []
        self.load(watchlists or [])

    def load(self, watchlists: list[Watchlist]) -> None:
        rules = []
        for wl in watchlists:
            for entry in wl.entries:
                regex = _compile(entry.pattern)
                rules.append((wl, entry.pattern, normalize_plate(entry.pattern), regex))
        with self._lock:
            self._rules = rules

    def match(self, plate: str) -> list[Hit]:
        plate = normalize_plate(plate)
        with self._lock:
            rules = self._rules
        hits: list[Hit] = []
        for wl, pattern, plain, regex in rules:
            if regex is not None:
                if regex.match(plate):
                    hits.append(Hit(wl.name, wl.label, pattern, 0))
                continue
            distance = Levenshtein.distance(plate, plain, score_cutoff=wl.tolerance)
            if distance <= wl.tolerance:
                hits.append(Hit(wl.name, wl.label, pattern, int(distance)))
        return hits
