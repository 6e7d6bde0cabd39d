"""The fuzzy plate index finds exactly what a full Levenshtein scan finds."""

from __future__ import annotations

import random
import string

import pytest
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from ovr_alpr.store import PlateIndex


def _plates(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    letters, digits = string.ascii_uppercase, string.digits
    shapes = ["LLDDDLL", "LDDDLL", "DLLDDDD", "LLLDDD", "LDD", "LLDDDDLL"]
    out = set()
    while len(out) < n:
        shape = rng.choice(shapes)
        out.add("".join(rng.choice(letters if c == "L" else digits) for c in shape))
    return sorted(out)


@pytest.mark.parametrize("max_distance", [0, 1, 2, 3])
def test_same_matches_as_a_full_scan(max_distance: int) -> None:
    plates = _plates(20_000)
    index = PlateIndex(plates[:15_000], tail_max=1_000)
    index.add(plates[15_000:])  # several small segments and a tail
    rng = random.Random(max_distance)
    queries = [*rng.sample(plates, 20), "AB123CO", "A", "ZZZZZZZZZZ", "AB-?"]
    for query in queries:
        want = {
            p: int(d)
            for p, d, _ in process.extract(
                query, plates, scorer=Levenshtein.distance, score_cutoff=max_distance, limit=None
            )
        }
        assert dict(index.search(query, max_distance)) == want, query


def test_closest_first_and_limit() -> None:
    index = PlateIndex(["AB123CD", "AB123CO", "AB123C", "XY999ZZ"])
    assert index.search("AB123CD", 1) == [("AB123CD", 0), ("AB123C", 1), ("AB123CO", 1)]
    assert index.search("AB123CD", 1, limit=1) == [("AB123CD", 0)]
    index.add(["AB123CD", "AB123CE"])  # a known plate is not added twice
    assert len(index) == 5
