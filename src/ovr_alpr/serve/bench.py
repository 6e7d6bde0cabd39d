"""Event-store benchmarks: ingest rate (SQLite, PostgreSQL) and search latency over many stored events.

    python -m ovr_alpr.serve.bench --events 1000000 --json out/store-bench.json
    python -m ovr_alpr.serve.bench --ingest-only --db postgresql://USER@127.0.0.1:5432/bench

Numbers, not asserts: the README quotes what this prints on the project's machine.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..events.model import NodeInfo, PlateEvent, PlateInfo, VehicleInfo
from ..store import EventQuery, EventStore

_SHAPES = ["LLDDDLL", "LLDDDLL", "LDDDLL", "DLLDDDD", "LLLDDD", "LLDDDDLL", "DDDLLL"]
_T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def random_plates(n: int, seed: int = 1) -> list[str]:
    """`n` plates of common European shapes (L letter, D digit); repeats happen as on a real road."""
    rng = random.Random(seed)
    letters, digits = string.ascii_uppercase, string.digits
    return [
        "".join(rng.choice(letters if c == "L" else digits) for c in rng.choice(_SHAPES)) for _ in range(n)
    ]


def make_events(plates: list[str], cameras: int = 8, start: int = 0) -> list[PlateEvent]:
    node = NodeInfo(site="bench", host="edge")
    vehicle = VehicleInfo(type="car")
    return [
        PlateEvent(
            event_id=uuid.uuid4().hex,
            captured_at=_T0 + timedelta(seconds=(start + i) * 2),
            camera_id=f"cam{(start + i) % cameras}",
            track_id=start + i,
            plate=PlateInfo(
                text=p, normalized_text=p, confidence=0.6 + 0.4 * ((start + i) % 97) / 97, region="eu"
            ),
            vehicle=vehicle,
            latency_ms=40.0,
            node=node,
            extras={"frame_number": start + i, "bbox": [10.0, 20.0, 110.0, 50.0]},
        )
        for i, p in enumerate(plates)
    ]


def ingest_rate(store: EventStore, events: list[PlateEvent], batch: int) -> tuple[float, float]:
    """Events upserted per wall second and per second of this thread's CPU, in batches of `batch` (one
    transaction each). SQLite runs in this thread; a PostgreSQL server's own CPU is not counted."""
    started, started_cpu = time.perf_counter(), time.thread_time()
    for i in range(0, len(events), batch):
        store.add(events[i : i + batch])
    return len(events) / (time.perf_counter() - started), len(events) / (time.thread_time() - started_cpu)


def fill(store: EventStore, total: int, chunk: int = 50_000, seed: int = 1) -> list[str]:
    """Bulk-load `total` events for the search figures; return their plates.

    Rows go straight through the store's upsert SQL (the ingest path is measured on its own): building a
    million `PlateEvent`s would take longer than the searches being measured.
    """
    rng = random.Random(seed)
    plates = random_plates(total, seed=seed)
    now = datetime.now(timezone.utc)
    with store.engine.begin() as conn:
        for start in range(0, total, chunk):
            rows = [
                store._driver_values(
                    {
                        "event_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                        "captured_at": _T0 + timedelta(seconds=i * 2),
                        "camera_id": f"cam{i % 8}",
                        "track_id": i,
                        "plate_text": plate,
                        "plate": plate,
                        "plate_len": len(plate),
                        "confidence": 0.6 + 0.4 * (i % 97) / 97,
                        "region": "eu",
                        "vehicle_type": "car",
                        "vehicle_make": None,
                        "vehicle_model": None,
                        "vehicle_color": None,
                        "latency_ms": 40.0,
                        "site": "bench",
                        "host": "edge",
                        "extras": {"frame_number": i},
                        "plate_crop": None,
                        "vehicle_crop": None,
                        "frame_crop": None,
                        "crop_bytes": 0,
                        "ingested_at": now,
                    }
                )
                for i, plate in enumerate(plates[start : start + chunk], start)
            ]
            conn.exec_driver_sql(store._upsert_sql, rows)
    return plates


def _typo(plate: str, rng: random.Random, edits: int) -> str:
    chars = list(plate)
    for _ in range(edits):
        chars[rng.randrange(len(chars))] = rng.choice(string.ascii_uppercase + string.digits)
    return "".join(chars)


def search_latency(store: EventStore, plates: list[str], queries: int, **query: Any) -> dict[str, float]:
    """p50/p95/max in ms of `store.search` for plates with typos (first page of 50)."""
    rng = random.Random(7)
    edits = query.get("max_distance", 1) if query.get("match") == "fuzzy" else 0
    wall, cpu = [], []
    found = 0
    for _ in range(queries):
        plate = _typo(rng.choice(plates), rng, edits)
        started, started_cpu = time.perf_counter(), time.thread_time()
        result = store.search(EventQuery(plate=plate, **query))
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        found += bool(result.events)
    # CPU time too: on a shared machine wall time measures the neighbours as much as the search
    return {
        "p50_ms": round(float(np.percentile(wall, 50)), 2),
        "p95_ms": round(float(np.percentile(wall, 95)), 2),
        "max_ms": round(float(np.max(wall)), 2),
        "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 2),
        "cpu_p95_ms": round(float(np.percentile(cpu, 95)), 2),
        "found_share": round(found / queries, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db", default="", help="SQLite file or postgresql:// URL (default: a temporary SQLite file)"
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="events stored for the search figures")
    parser.add_argument("--ingest-events", type=int, default=20_000, help="events for the ingest figures")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ingest-only", action="store_true")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        target = args.db or str(Path(tmp) / "bench.db")
        figures: dict[str, Any] = {"database": "postgresql" if "postgres" in target else "sqlite"}
        with EventStore(target, crops_dir=Path(tmp) / "crops") as store:
            events = make_events(random_plates(args.ingest_events, seed=99), start=10_000_000)
            half = events[: len(events) // 2]
            single = events[len(events) // 2 :][:2000]
            for name, batch_events, batch in (
                ("ingest_batch500", half, 500),
                ("ingest_single", single, 1),
                ("reingest_batch500", half, 500),  # the same events again: at-least-once re-delivery
            ):
                wall, cpu = ingest_rate(store, batch_events, batch)
                figures[f"{name}_events_per_s"] = round(wall)
                figures[f"{name}_events_per_cpu_s"] = round(cpu)
            print(json.dumps(figures))
            if not args.ingest_only:
                started = time.perf_counter()
                plates = fill(store, args.events)
                figures["stored_events"] = store.count()
                figures["fill_s"] = round(time.perf_counter() - started, 1)
                started = time.perf_counter()
                index = store.plate_index()
                figures["fuzzy_index_build_s"] = round(time.perf_counter() - started, 1)
                figures["distinct_plates"] = len(index)
                for name, query in {
                    "exact": {"match": "exact"},
                    "prefix": {"match": "prefix"},
                    "fuzzy1": {"match": "fuzzy", "max_distance": 1},
                    "fuzzy2": {"match": "fuzzy", "max_distance": 2},
                }.items():
                    figures[f"search_{name}"] = search_latency(store, plates, args.queries, **query)
                    print(name, figures[f"search_{name}"])
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
