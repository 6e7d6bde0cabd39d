"""In-memory index of the distinct plates in the store, for fast fuzzy (edit distance) search.

A full Levenshtein scan of a million plates takes ~0.4 s on one core, so candidates are narrowed first with
bigram posting lists (numpy, CSR layout). The pigeonhole rule does most of the work: k edits leave one of
k+1 disjoint pieces of the query intact, so a match holds every bigram of one piece; the query is cut where
that leaves the fewest candidates. Queries too short for that fall back to the q-gram lemma (two strings
within k edits share at least `len - 1 - 2k` bigrams) or to character counts. rapidfuzz then checks the
few hundred candidates left with `score_cutoff`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_CODE = np.full(256, len(_ALPHABET), dtype=np.int32)  # anything else is one "other" symbol
for _i, _c in enumerate(_ALPHABET):
    _CODE[ord(_c)] = _i
_SYMBOLS = len(_ALPHABET) + 1
_WIDTH = 16  # plates are cut to this many characters for the grams (longer ones only lose filtering)


def _encode(plates: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Plates -> (symbol codes N x _WIDTH, -1 past the end; lengths)."""
    raw = np.frombuffer(
        b"".join(p.encode("ascii", "replace")[:_WIDTH].ljust(_WIDTH, b"\0") for p in plates), dtype=np.uint8
    ).reshape(len(plates), _WIDTH)
    codes = _CODE[raw]
    lengths = np.fromiter((min(len(p), _WIDTH) for p in plates), dtype=np.int32, count=len(plates))
    codes[np.arange(_WIDTH)[None, :] >= lengths[:, None]] = -1
    return codes, np.fromiter((len(p) for p in plates), dtype=np.int32, count=len(plates))


class _Postings:
    """CSR posting lists: key -> sorted, distinct plate ids."""

    def __init__(self, keys: np.ndarray, ids: np.ndarray, size: int) -> None:
        order = np.lexsort((ids, keys))
        keys, ids = keys[order], ids[order]
        # a plate holding a gram twice is listed once, so intersections may assume unique ids
        keep = np.ones(len(keys), dtype=bool)
        keep[1:] = (keys[1:] != keys[:-1]) | (ids[1:] != ids[:-1])
        self.ids = ids[keep].astype(np.int32)
        self.offsets = np.zeros(size + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys[keep], minlength=size), out=self.offsets[1:])

    def get(self, key: int) -> np.ndarray:
        return self.ids[self.offsets[key] : self.offsets[key + 1]]


class _Segment:
    """An immutable block of plates with its bigram and character postings."""

    def __init__(self, plates: list[str]) -> None:
        self.plates = plates
        self.plate_array = np.array(plates, dtype=object)
        codes, self.lengths = _encode(plates) if plates else (np.zeros((0, _WIDTH), np.int32), np.zeros(0))
        n = len(plates)
        rows = np.repeat(np.arange(n, dtype=np.int32)[:, None], _WIDTH, axis=1)
        valid = codes >= 0
        self.chars = _Postings(codes[valid], rows[valid], _SYMBOLS)
        pair_valid = valid[:, :-1] & valid[:, 1:]
        pairs = codes[:, :-1] * _SYMBOLS + codes[:, 1:]
        self.bigrams = _Postings(pairs[pair_valid], rows[:, :-1][pair_valid], _SYMBOLS * _SYMBOLS)

    def candidates(self, query: str, max_distance: int) -> list[str]:
        n = len(self.plates)
        if n == 0:
            return []
        qcodes = _CODE[np.frombuffer(query.encode("ascii", "replace")[:_WIDTH], dtype=np.uint8)]
        qlen = len(query)
        lo, hi = qlen - max_distance, qlen + max_distance
        ids = self._pigeonhole(qcodes, max_distance) if max_distance >= 1 else None
        if ids is None:
            # q-gram lemma, with the shorter of the two lengths that could still match
            need_bigrams = max(lo, 1) - 1 - 2 * max_distance
            if need_bigrams >= 1 and len(qcodes) >= 2:
                keys = {int(a) * _SYMBOLS + int(b) for a, b in itertools.pairwise(qcodes)}
                mask = self._count(self.bigrams, keys) >= need_bigrams
            elif max(lo, 1) - max_distance >= 1:
                mask = self._count(self.chars, {int(c) for c in qcodes}) >= max(lo, 1) - max_distance
            else:
                mask = np.ones(n, dtype=bool)
            ids = np.flatnonzero(mask)
        lengths = self.lengths[ids]
        ids = ids[(lengths >= lo) & (lengths <= hi)]
        return self.plate_array[ids].tolist()

    def _pigeonhole(self, qcodes: np.ndarray, max_distance: int) -> np.ndarray | None:
        """Plates holding one of k+1 disjoint pieces of the query (k edits leave one piece intact).

        The query is cut where the pieces' rarest bigrams are rarest, so a common pair of digits does not
        pull in a tenth of the store. None when the query is too short for pieces of two characters.
        """
        parts = max_distance + 1
        length = len(qcodes)
        if length < 2 * parts:
            return None
        grams = [int(a) * _SYMBOLS + int(b) for a, b in itertools.pairwise(qcodes)]
        sizes = [int(self.bigrams.offsets[g + 1] - self.bigrams.offsets[g]) for g in grams]
        best: tuple[int, tuple[int, ...]] | None = None
        for cuts in itertools.combinations(range(2, length - 1), max_distance):
            bounds = (0, *cuts, length)
            if any(b - a < 2 for a, b in itertools.pairwise(bounds)):
                continue
            # a piece spans bigrams start .. stop-2; its candidates are at most its rarest bigram's postings
            cost = sum(min(sizes[a : b - 1]) for a, b in itertools.pairwise(bounds))
            if best is None or cost < best[0]:
                best = (cost, bounds)
        if best is None:
            return None
        found = []
        for a, b in itertools.pairwise(best[1]):
            order = sorted(range(a, b - 1), key=lambda i: sizes[i])
            ids = self.bigrams.get(grams[order[0]])
            for i in order[1:]:
                if ids.size == 0:
                    break
                ids = np.intersect1d(ids, self.bigrams.get(grams[i]), assume_unique=True)
            found.append(ids)
        ids = np.concatenate(found)
        ids.sort()
        return ids[np.concatenate(([True], ids[1:] != ids[:-1]))] if ids.size else ids

    def _count(self, postings: _Postings, keys: set[int]) -> np.ndarray:
        """Per plate, how many of `keys` it holds (a repeated gram counts each time: never too few)."""
        lists = [postings.get(k) for k in keys]
        hits = np.concatenate(lists) if lists else np.zeros(0, np.int32)
        return np.bincount(hits, minlength=len(self.plates))


class PlateIndex:
    """Distinct plates, searchable by edit distance. Thread-safe; new plates land in a small tail first.

    Example:
        >>> index = PlateIndex(["AB123CD", "XY999ZZ"])
        >>> index.search("AB123CO", max_distance=1)
        [('AB123CD', 1)]
    """

    def __init__(self, plates: Iterable[str] = (), tail_max: int = 2_000) -> None:
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self._segments: list[_Segment] = []
        self._tail: list[str] = []
        self._tail_max = tail_max
        self.add(plates)

    def __len__(self) -> int:
        return len(self._known)

    def add(self, plates: Iterable[str]) -> None:
        """Add plates (already normalised); known ones are ignored."""
        with self._lock:
            for plate in plates:
                if plate and plate not in self._known:
                    self._known.add(plate)
                    self._tail.append(plate)
            if len(self._tail) >= self._tail_max:
                # A bulk load becomes one segment at once; small additions merge later.
                self._seal()

    def _seal(self) -> None:
        self._segments.append(_Segment(self._tail))
        self._tail = []
        # Keep few segments: merge the newest ones while they are no smaller than the one before.
        while len(self._segments) > 1 and len(self._segments[-1].plates) * 2 >= len(
            self._segments[-2].plates
        ):
            last = self._segments.pop()
            prev = self._segments.pop()
            self._segments.append(_Segment(prev.plates + last.plates))

    def search(self, query: str, max_distance: int, limit: int | None = None) -> list[tuple[str, int]]:
        """Plates within `max_distance` edits of `query`, closest first (then alphabetical)."""
        if max_distance <= 0:
            with self._lock:
                return [(query, 0)] if query in self._known else []
        with self._lock:
            segments = list(self._segments)
            tail = list(self._tail)
        candidates: list[str] = []
        for segment in segments:
            candidates.extend(segment.candidates(query, max_distance))
        candidates.extend(p for p in tail if abs(len(p) - len(query)) <= max_distance)
        found = process.extract(
            query, candidates, scorer=Levenshtein.distance, score_cutoff=max_distance, limit=None
        )
        matches = sorted(((plate, int(dist)) for plate, dist, _ in found), key=lambda m: (m[1], m[0]))
        return matches[:limit] if limit is not None else matches
