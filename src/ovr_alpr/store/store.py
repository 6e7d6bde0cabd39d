"""`EventStore`: events, their crops, camera status, watchlists and alerts in SQLite or PostgreSQL.

SQLite (one file, WAL mode) is the default; PostgreSQL is chosen by URL. Events are upserted by
`event_id`, so an event delivered twice (at-least-once delivery) is stored once. Crops are files under
`crops_dir` (next to the database), named by event id, and removed with their rows by retention.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, inspect, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from ..errors import ConfigError
from ..events.model import ImageRefs, NodeInfo, PlateEvent, PlateInfo, VehicleInfo
from .plate_index import PlateIndex
from .records import (
    Alert,
    CameraStatus,
    EventQuery,
    RetentionResult,
    SearchResult,
    StoredEvent,
    Watchlist,
    WatchlistEntry,
    as_utc,
    max_fuzzy_distance,
    normalize_plate,
    utc_now,
)
from .schema import (
    alerts_table,
    camera_status_table,
    events_table,
    watchlist_entries_table,
    watchlists_table,
)

logger = logging.getLogger(__name__)

CROP_KINDS = ("plate", "vehicle", "frame")
_CROP_SUFFIXES = {b"\xff\xd8\xff": ".jpg", b"\x89PNG\r\n\x1a\n": ".png"}
MAX_CROP_BYTES = 4 * 1024 * 1024
#: What an event id may look like (it names the crop files, so no path characters).
EVENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: Fuzzy search: at most this many distinct plates are looked up per query (closest first).
MAX_FUZZY_PLATES = 2000

CropInput = bytes | Path


def database_url(target: str, output_dir: str | Path = "out") -> str:
    """`out/events.db`, `sqlite:///...` or `postgresql://...` -> an SQLAlchemy URL.

    A bare path is an SQLite file (relative paths are taken as given, not under `output_dir`); an empty
    target means `output_dir/events.db`.
    """
    if not target:
        target = str(Path(output_dir) / "events.db")
    if target.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + target.split("://", 1)[1]
    if "://" in target:
        return target
    return f"sqlite:///{Path(target).expanduser()}"


class EventStore:
    """The event store. Thread-safe (one SQLAlchemy engine, a connection per call).

    Args:
        target: SQLite file path, or an SQLAlchemy / `postgresql://` URL.
        crops_dir: where crop files go; default `crops/` next to the SQLite file (required for PostgreSQL
            unless `output_dir` is given, then `output_dir/crops`).
        output_dir: base for defaults.

    Raises:
        ConfigError: the database cannot be opened or migrated.

    Example:
        >>> store = EventStore("out/events.db")             # doctest: +SKIP
        >>> store.add([event], crops={event.event_id: {"plate": Path("crop.jpg")}})  # doctest: +SKIP
        >>> store.search(EventQuery(plate="AB123CO", match="fuzzy")).events  # doctest: +SKIP
    """

    def __init__(
        self, target: str, *, crops_dir: str | Path | None = None, output_dir: str | Path = "out"
    ) -> None:
        self.url = make_url(database_url(target, output_dir))
        self.dialect = self.url.get_backend_name()
        if self.dialect == "sqlite":
            database = self.url.database or ""
            if not database or database == ":memory:":
                raise ConfigError(
                    "the event store needs an SQLite file, not an in-memory database", "pass a file path"
                )
            db_path = Path(database)
            try:
                db_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot create folder for {db_path}: {exc.strerror}", "choose a writable path"
                ) from None
            self.db_path: Path | None = db_path
            default_crops = db_path.parent / "crops"
        elif self.dialect == "postgresql":
            self.db_path = None
            default_crops = Path(output_dir) / "crops"
        else:
            raise ConfigError(f"unsupported database {self.dialect!r}", "use an SQLite path or postgresql://")
        self.crops_dir = Path(crops_dir) if crops_dir else default_crops
        self.engine = self._create_engine()
        self._upsert_sql = self._events_upsert_sql()
        self._camera_upsert = self._camera_upsert_stmt()
        self._index: PlateIndex | None = None
        self._index_last_id = 0
        self._index_lock = threading.Lock()
        self.migrate()

    # ------------------------------------------------------------ set-up

    def _create_engine(self) -> Engine:
        if self.dialect == "sqlite":
            engine = create_engine(
                self.url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=8
            )

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                cursor = dbapi_conn.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()

            return engine
        return create_engine(self.url, pool_size=8, pool_pre_ping=True)

    def migrate(self) -> None:
        """Bring the schema to the newest migration (Alembic; the scripts ship in the package)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        try:
            with self.engine.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except Exception as exc:
            if isinstance(exc, ConfigError):
                raise
            from ..errors import first_line

            raise ConfigError(
                f"cannot open event store {self.url.render_as_string(hide_password=True)}: {first_line(exc)}",
                "check the database path or URL and that the server is running",
            ) from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ writing events

    def _insert(self, table: Any) -> Any:
        return (sqlite.insert if self.dialect == "sqlite" else postgresql.insert)(table)

    def add(
        self,
        events: Sequence[PlateEvent],
        crops: Mapping[str, Mapping[str, CropInput]] | None = None,
    ) -> list[str]:
        """Upsert events (by `event_id`) with their crops; return the ids that were not stored before.

        `crops` maps event id -> kind (`plate`, `vehicle`, `frame`) -> JPEG/PNG bytes or a local file. A
        file already under `crops_dir` is referenced where it is; others are copied in.

        Raises:
            ValueError: an event id is not `[A-Za-z0-9_-]{1,64}`, or a crop is not a JPEG/PNG image
                within `MAX_CROP_BYTES`; nothing is stored then.
        """
        if not events:
            return []
        crops = crops or {}
        for ev in events:
            if not EVENT_ID_RE.match(ev.event_id):
                raise ValueError(f"event id {ev.event_id!r} must be 1-64 characters of A-Z a-z 0-9 _ -")
            for kind in crops.get(ev.event_id, {}):
                if kind not in CROP_KINDS:
                    raise ValueError(f"unknown crop kind {kind!r}; use one of {', '.join(CROP_KINDS)}")
        now = utc_now()
        rows = []
        written: list[Path] = []
        try:
            for ev in events:
                paths, size = self._store_crops(ev, crops.get(ev.event_id, {}), written)
                rows.append(self._row(ev, paths, size, now))
        except Exception:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        ids = [row["event_id"] for row in rows]
        with self.engine.begin() as conn:
            known = self._known_ids(conn, ids)
            conn.exec_driver_sql(self._upsert_sql, [self._driver_values(row) for row in rows])
            self._touch_cameras(conn, events, now)
        if self._index is not None:
            self._index.add(row["plate"] for row in rows)
        return [i for i in dict.fromkeys(ids) if i not in known]

    def _known_ids(self, conn: Any, ids: list[str]) -> set[str]:
        """Which of `ids` are stored already (driver SQL: this runs once per ingested batch)."""
        if self.dialect == "sqlite":
            known: set[str] = set()
            for i in range(0, len(ids), 500):
                part = ids[i : i + 500]
                sql = f"SELECT event_id FROM events WHERE event_id IN ({', '.join('?' * len(part))})"
                known.update(r[0] for r in conn.exec_driver_sql(sql, tuple(part)))
            return known
        rows = conn.exec_driver_sql("SELECT event_id FROM events WHERE event_id = ANY(%(ids)s)", {"ids": ids})
        return {r[0] for r in rows}

    def _events_upsert_sql(self) -> str:
        """The upsert of one event row, as driver SQL.

        Written out rather than built per call: SQLAlchemy's per-row parameter processing costs more than
        the insert itself. A re-delivery updates the event but keeps crops stored the first time.
        """
        columns = [c.name for c in events_table.columns if c.name != "id"]
        if self.dialect == "sqlite":
            values = [f":{c}" for c in columns]
        else:
            values = [f"%({c})s::json" if c == "extras" else f"%({c})s" for c in columns]
        updates = []
        for c in columns:
            if c in ("event_id", "ingested_at"):
                continue
            if c.endswith("_crop"):
                updates.append(f"{c} = COALESCE(excluded.{c}, events.{c})")
            elif c == "crop_bytes":
                updates.append(
                    "crop_bytes = CASE WHEN excluded.crop_bytes > 0 THEN excluded.crop_bytes "
                    "ELSE events.crop_bytes END"
                )
            else:
                updates.append(f"{c} = excluded.{c}")
        return (
            f"INSERT INTO events ({', '.join(columns)}) VALUES ({', '.join(values)}) "
            f"ON CONFLICT (event_id) DO UPDATE SET {', '.join(updates)}"
        )

    def _driver_values(self, row: dict[str, Any]) -> dict[str, Any]:
        """A row's values as the database driver takes them (what SQLAlchemy's types would have made)."""
        values = dict(row)
        values["extras"] = json.dumps(row["extras"])
        for key in ("captured_at", "ingested_at"):
            naive = row[key].astimezone(timezone.utc).replace(tzinfo=None)
            # SQLAlchemy's SQLite DateTime storage format, so reads and range filters see the same text
            values[key] = naive.isoformat(" ", "microseconds") if self.dialect == "sqlite" else naive
        return values

    @staticmethod
    def _row(ev: PlateEvent, paths: dict[str, str], size: int, now: datetime) -> dict[str, Any]:
        plate = normalize_plate(ev.plate.normalized_text or ev.plate.text)
        return {
            "event_id": ev.event_id,
            "captured_at": as_utc(ev.captured_at),
            "camera_id": ev.camera_id,
            "track_id": ev.track_id,
            "plate_text": ev.plate.text,
            "plate": plate,
            "plate_len": len(plate),
            "confidence": ev.plate.confidence,
            "region": ev.plate.region,
            "vehicle_type": ev.vehicle.type,
            "vehicle_make": ev.vehicle.make,
            "vehicle_model": ev.vehicle.model,
            "vehicle_color": ev.vehicle.color,
            "latency_ms": ev.latency_ms,
            "site": ev.node.site,
            "host": ev.node.host,
            "extras": ev.extras,
            "plate_crop": paths.get("plate"),
            "vehicle_crop": paths.get("vehicle"),
            "frame_crop": paths.get("frame"),
            "crop_bytes": size,
            "ingested_at": now,
        }

    def _store_crops(
        self, ev: PlateEvent, crops: Mapping[str, CropInput], written: list[Path]
    ) -> tuple[dict[str, str], int]:
        paths: dict[str, str] = {}
        total = 0
        if not crops:
            return paths, 0
        root = self.crops_dir.resolve()
        day = as_utc(ev.captured_at).strftime("%Y-%m-%d")
        camera = _UNSAFE.sub("-", ev.camera_id).strip("-.") or "camera"
        for kind, crop in crops.items():
            if isinstance(crop, Path):
                try:
                    source = crop.resolve()
                    size = source.stat().st_size
                except OSError:
                    logger.warning("event %s: %s crop %s not found, not stored", ev.event_id, kind, crop)
                    continue
                if source.is_relative_to(root):
                    paths[kind] = source.relative_to(root).as_posix()
                    total += size
                    continue
                with open(source, "rb") as handle:
                    data = handle.read(MAX_CROP_BYTES + 1)
            else:
                data = crop
            suffix = _image_suffix(data)
            if suffix is None or len(data) > MAX_CROP_BYTES:
                raise ValueError(
                    f"event {ev.event_id}: {kind} crop must be a JPEG or PNG "
                    f"of at most {MAX_CROP_BYTES} bytes"
                )
            relative = f"{day}/{camera}/{ev.event_id}-{kind}{suffix}"
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
            written.append(target)
            paths[kind] = relative
            total += len(data)
        return paths, total

    def _touch_cameras(self, conn: Any, events: Sequence[PlateEvent], now: datetime) -> None:
        """Keep each camera's last event (status derived from events when `run` posts none)."""
        newest: dict[str, PlateEvent] = {}
        for ev in events:
            best = newest.get(ev.camera_id)
            if best is None or as_utc(ev.captured_at) >= as_utc(best.captured_at):
                newest[ev.camera_id] = ev
        rows = [
            {
                "camera_id": camera_id,
                "last_event_at": as_utc(ev.captured_at),
                "last_event_id": ev.event_id,
                "last_plate": normalize_plate(ev.plate.normalized_text or ev.plate.text),
                "updated_at": now,
            }
            for camera_id, ev in newest.items()
        ]
        conn.execute(self._camera_upsert, rows)

    def _camera_upsert_stmt(self) -> Any:
        """Upsert of a camera's last event that never moves it back in time (built once: costly to build)."""
        stmt = self._insert(camera_status_table)
        return stmt.on_conflict_do_update(
            index_elements=["camera_id"],
            set_={
                k: stmt.excluded[k] for k in ("last_event_at", "last_event_id", "last_plate", "updated_at")
            },
            where=(camera_status_table.c.last_event_at.is_(None))
            | (camera_status_table.c.last_event_at <= stmt.excluded.last_event_at),
        )

    # ------------------------------------------------------------ reading events

    def get(self, event_id: str) -> StoredEvent | None:
        """One event with its crops and alerts, or None."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(events_table).where(events_table.c.event_id == event_id))
                .mappings()
                .first()
            )
            if row is None:
                return None
            alerts = self._alerts(conn, [event_id])
        return _stored(row, alerts.get(event_id, []))

    def get_many(self, event_ids: Sequence[str]) -> dict[str, StoredEvent]:
        """Several events by id (those that exist), with crops and alerts."""
        found: dict[str, StoredEvent] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(event_ids), 500):
                part = list(event_ids[i : i + 500])
                rows = list(
                    conn.execute(select(events_table).where(events_table.c.event_id.in_(part))).mappings()
                )
                alerts = self._alerts(conn, [r["event_id"] for r in rows])
                found.update((r["event_id"], _stored(r, alerts.get(r["event_id"], []))) for r in rows)
        return found

    def crop_path(self, event_id: str, kind: str) -> Path | None:
        """The file of an event's crop, checked to lie inside `crops_dir`; None if there is none."""
        if kind not in CROP_KINDS:
            return None
        with self.engine.connect() as conn:
            relative = conn.execute(
                select(events_table.c[f"{kind}_crop"]).where(events_table.c.event_id == event_id)
            ).scalar()
        return self.resolve_crop(relative) if relative else None

    def resolve_crop(self, relative: str) -> Path | None:
        """`relative` under `crops_dir`, or None if it escapes it, is not an image file or is missing."""
        root = self.crops_dir.resolve()
        try:
            path = (root / relative).resolve()
        except (OSError, ValueError):
            return None
        if not path.is_relative_to(root) or path.suffix.lower() not in (".jpg", ".png") or not path.is_file():
            return None
        return path

    def search(self, query: EventQuery) -> SearchResult:
        """Events matching every filter of `query`, newest first."""
        t = events_table.c
        stmt = select(events_table)
        distances: dict[str, int] = {}
        used_distance = None
        if query.plate:
            plate = normalize_plate(query.plate)
            if query.match == "exact":
                stmt = stmt.where(t.plate == plate)
            elif query.match == "prefix":
                if plate:
                    # a range, not LIKE: SQLite's LIKE is case-insensitive and cannot use the index
                    upper = plate[:-1] + chr(ord(plate[-1]) + 1)
                    stmt = stmt.where(t.plate >= plate, t.plate < upper)
            else:
                if not plate:
                    return SearchResult([], False, 0)
                used_distance = max(0, min(query.max_distance, max_fuzzy_distance(plate)))
                distances = dict(self.plate_index().search(plate, used_distance, limit=MAX_FUZZY_PLATES))
                if not distances:
                    return SearchResult([], False, used_distance)
                stmt = stmt.where(t.plate.in_(list(distances)))
        if query.camera_ids:
            stmt = stmt.where(t.camera_id.in_(list(query.camera_ids)))
        if query.since is not None:
            stmt = stmt.where(t.captured_at >= as_utc(query.since))
        if query.until is not None:
            stmt = stmt.where(t.captured_at < as_utc(query.until))
        if query.min_confidence is not None:
            stmt = stmt.where(t.confidence >= query.min_confidence)
        if query.max_confidence is not None:
            stmt = stmt.where(t.confidence <= query.max_confidence)
        stmt = stmt.order_by(t.captured_at.desc(), t.id.desc()).limit(query.limit + 1).offset(query.offset)
        with self.engine.connect() as conn:
            rows = list(conn.execute(stmt).mappings())
            page = rows[: query.limit]
            alerts = self._alerts(conn, [r["event_id"] for r in page])
        found = [
            _stored(r, alerts.get(r["event_id"], []), distances.get(r["plate"]) if distances else None)
            for r in page
        ]
        return SearchResult(found, len(rows) > query.limit, used_distance)

    def iter_search(self, query: EventQuery, batch: int = 1000) -> Iterator[StoredEvent]:
        """Every event matching `query` (its `limit`/`offset` ignored), newest first, in pages."""
        offset = 0
        while True:
            result = self.search(
                EventQuery(**{**query.__dict__, "limit": batch, "offset": offset})  # type: ignore[arg-type]
            )
            yield from result.events
            if not result.has_more:
                return
            offset += batch

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(events_table)).scalar() or 0)

    def delete(self, event_id: str) -> bool:
        """Remove one event, its alerts and its crop files; False if there was none."""
        with self.engine.begin() as conn:
            row = (
                conn.execute(select(events_table).where(events_table.c.event_id == event_id))
                .mappings()
                .first()
            )
            if row is None:
                return False
            conn.execute(delete(alerts_table).where(alerts_table.c.event_id == event_id))
            conn.execute(delete(events_table).where(events_table.c.event_id == event_id))
        self._unlink_crops([row])
        return True

    def plate_index(self) -> PlateIndex:
        """The fuzzy index of distinct plates, built on first use and caught up with new rows each call."""
        with self._index_lock:
            stmt = select(events_table.c.id, events_table.c.plate).where(
                events_table.c.id > self._index_last_id
            )
            with self.engine.connect() as conn:
                rows = conn.execute(stmt.order_by(events_table.c.id)).all()
            if self._index is None:
                self._index = PlateIndex()
            if rows:
                self._index.add(r[1] for r in rows)
                self._index_last_id = rows[-1][0]
            return self._index

    # ------------------------------------------------------------ retention

    def storage_bytes(self) -> int:
        """Bytes used: the database (SQLite file + WAL, or PostgreSQL's table sizes) plus the crops."""
        with self.engine.connect() as conn:
            crops = int(
                conn.execute(select(func.coalesce(func.sum(events_table.c.crop_bytes), 0))).scalar() or 0
            )
            return self._database_bytes(conn) + crops

    def _database_bytes(self, conn: Any) -> int:
        if self.db_path is not None:
            return sum(p.stat().st_size for p in (self.db_path, Path(f"{self.db_path}-wal")) if p.exists())
        return int(conn.execute(text("SELECT pg_total_relation_size('events')")).scalar() or 0)

    def apply_retention(
        self, max_age_s: float | None = None, max_bytes: int | None = None, chunk: int = 2000
    ) -> RetentionResult:
        """Delete the oldest events (rows, alerts and crop files together) by age and by disk budget.

        The budget counts the crops plus the database, estimated as rows x average row size (a database
        file does not shrink when rows are deleted; their pages are reused).
        """
        deleted = files = freed = 0
        if max_age_s is not None:
            cutoff = utc_now() - timedelta(seconds=max_age_s)
            while True:
                n, f, b = self._delete_oldest(chunk, before=cutoff)
                deleted, files, freed = deleted + n, files + f, freed + b
                if n < chunk:
                    break
        if max_bytes is not None:
            with self.engine.connect() as conn:
                rows = int(conn.execute(select(func.count()).select_from(events_table)).scalar() or 0)
                db_bytes = self._database_bytes(conn)
                crops = int(
                    conn.execute(select(func.coalesce(func.sum(events_table.c.crop_bytes), 0))).scalar() or 0
                )
            per_row = db_bytes / rows if rows else 0.0
            while rows and rows * per_row + crops > max_bytes:
                over = rows * per_row + crops - max_bytes
                average = per_row + crops / rows
                want = max(1, min(chunk, int(over / average) + 1)) if average else chunk
                n, f, b = self._delete_oldest(want)
                if n == 0:
                    break
                rows -= n
                crops -= b
                deleted, files, freed = deleted + n, files + f, freed + b
        if deleted:
            logger.info("retention: deleted %d event(s) and %d crop file(s)", deleted, files)
            with self._index_lock:
                # Drop stale plates: rebuilt from the rows left on the next fuzzy search.
                self._index, self._index_last_id = None, 0
        return RetentionResult(deleted, files, freed)

    def _delete_oldest(self, limit: int, before: datetime | None = None) -> tuple[int, int, int]:
        t = events_table.c
        stmt = select(t.id, t.event_id, t.plate_crop, t.vehicle_crop, t.frame_crop, t.crop_bytes)
        if before is not None:
            stmt = stmt.where(t.captured_at < before)
        stmt = stmt.order_by(t.captured_at, t.id).limit(limit)
        with self.engine.begin() as conn:
            rows = list(conn.execute(stmt).mappings())
            if not rows:
                return 0, 0, 0
            ids = [r["id"] for r in rows]
            conn.execute(
                delete(alerts_table).where(alerts_table.c.event_id.in_([r["event_id"] for r in rows]))
            )
            conn.execute(delete(events_table).where(t.id.in_(ids)))
        files = self._unlink_crops(rows)
        return len(rows), files, sum(int(r["crop_bytes"] or 0) for r in rows)

    def _unlink_crops(self, rows: Iterable[Mapping[str, Any]]) -> int:
        count = 0
        for row in rows:
            for kind in CROP_KINDS:
                relative = row.get(f"{kind}_crop")
                path = self.resolve_crop(relative) if relative else None
                if path is not None:
                    path.unlink(missing_ok=True)
                    count += 1
        return count

    # ------------------------------------------------------------ cameras

    def update_camera_status(self, status: CameraStatus) -> None:
        """Upsert what `run` reports about a camera (fields left None keep their stored value)."""
        values = {
            k: getattr(status, k)
            for k in ("last_frame_at", "fps", "frames", "dropped_frames", "source_up")
            if getattr(status, k) is not None
        }
        values["updated_at"] = utc_now()
        stmt = self._insert(camera_status_table).values(camera_id=status.camera_id, **values)
        stmt = stmt.on_conflict_do_update(index_elements=["camera_id"], set_=values)
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def cameras(self) -> list[CameraStatus]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(camera_status_table).order_by(camera_status_table.c.camera_id)
            ).mappings()
            return [CameraStatus(**dict(r)) for r in rows]

    # ------------------------------------------------------------ watchlists and alerts

    def watchlists(self) -> list[Watchlist]:
        with self.engine.connect() as conn:
            lists = list(conn.execute(select(watchlists_table).order_by(watchlists_table.c.name)).mappings())
            entries = list(
                conn.execute(
                    select(watchlist_entries_table).order_by(watchlist_entries_table.c.id)
                ).mappings()
            )
        by_list: dict[int, list[WatchlistEntry]] = {}
        for e in entries:
            by_list.setdefault(e["watchlist_id"], []).append(WatchlistEntry(e["pattern"], e["note"]))
        return [
            Watchlist(w["name"], w["label"], w["tolerance"], tuple(by_list.get(w["id"], []))) for w in lists
        ]

    def watchlist(self, name: str) -> Watchlist | None:
        return next((w for w in self.watchlists() if w.name == name), None)

    def save_watchlist(self, watchlist: Watchlist) -> Watchlist:
        """Create or replace a watchlist (its entries are replaced as a whole)."""
        with self.engine.begin() as conn:
            existing = conn.execute(
                select(watchlists_table.c.id).where(watchlists_table.c.name == watchlist.name)
            ).scalar()
            if existing is None:
                existing = conn.execute(
                    watchlists_table.insert()
                    .values(
                        name=watchlist.name,
                        label=watchlist.label,
                        tolerance=watchlist.tolerance,
                        created_at=utc_now(),
                    )
                    .returning(watchlists_table.c.id)
                ).scalar_one()
            else:
                conn.execute(
                    update(watchlists_table)
                    .where(watchlists_table.c.id == existing)
                    .values(label=watchlist.label, tolerance=watchlist.tolerance)
                )
                conn.execute(
                    delete(watchlist_entries_table).where(watchlist_entries_table.c.watchlist_id == existing)
                )
            if watchlist.entries:
                conn.execute(
                    watchlist_entries_table.insert(),
                    [
                        {"watchlist_id": existing, "pattern": e.pattern, "note": e.note}
                        for e in watchlist.entries
                    ],
                )
        return watchlist

    def delete_watchlist(self, name: str) -> bool:
        with self.engine.begin() as conn:
            wid = conn.execute(select(watchlists_table.c.id).where(watchlists_table.c.name == name)).scalar()
            if wid is None:
                return False
            conn.execute(delete(watchlist_entries_table).where(watchlist_entries_table.c.watchlist_id == wid))
            conn.execute(delete(watchlists_table).where(watchlists_table.c.id == wid))
        return True

    def add_alerts(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        now = utc_now()
        rows = [
            {
                **{k: getattr(a, k) for k in Alert.__dataclass_fields__ if k not in ("id", "created_at")},
                "captured_at": as_utc(a.captured_at),
                "created_at": a.created_at or now,
            }
            for a in alerts
        ]
        with self.engine.begin() as conn:
            for row in rows:
                # At-least-once delivery: the same event may raise the same hit twice; keep one.
                exists = conn.execute(
                    select(alerts_table.c.id).where(
                        alerts_table.c.event_id == row["event_id"],
                        alerts_table.c.watchlist == row["watchlist"],
                        alerts_table.c.pattern == row["pattern"],
                    )
                ).first()
                if exists is None:
                    conn.execute(alerts_table.insert().values(**row))

    def recent_alerts(self, limit: int = 50) -> list[Alert]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(alerts_table)
                .order_by(alerts_table.c.created_at.desc(), alerts_table.c.id.desc())
                .limit(limit)
            ).mappings()
            return [Alert(**dict(r)) for r in rows]

    def _alerts(self, conn: Any, event_ids: list[str]) -> dict[str, list[Alert]]:
        if not event_ids:
            return {}
        rows = conn.execute(
            select(alerts_table).where(alerts_table.c.event_id.in_(event_ids)).order_by(alerts_table.c.id)
        ).mappings()
        found: dict[str, list[Alert]] = {}
        for r in rows:
            found.setdefault(r["event_id"], []).append(Alert(**dict(r)))
        return found

    def table_names(self) -> list[str]:
        return inspect(self.engine).get_table_names()


def _image_suffix(data: bytes) -> str | None:
    for magic, suffix in _CROP_SUFFIXES.items():
        if data.startswith(magic):
            return suffix
    return None


def _stored(row: Mapping[str, Any], alerts: list[Alert], distance: int | None = None) -> StoredEvent:
    crops = {kind: row[f"{kind}_crop"] for kind in CROP_KINDS if row[f"{kind}_crop"]}
    event = PlateEvent(
        event_id=row["event_id"],
        captured_at=row["captured_at"],
        camera_id=row["camera_id"],
        track_id=row["track_id"],
        plate=PlateInfo(
            text=row["plate_text"],
            normalized_text=row["plate"],
            confidence=row["confidence"],
            region=row["region"],
        ),
        vehicle=VehicleInfo(
            type=row["vehicle_type"],
            make=row["vehicle_make"],
            model=row["vehicle_model"],
            color=row["vehicle_color"],
        ),
        images=ImageRefs(
            plate_url=crops.get("plate"), vehicle_url=crops.get("vehicle"), frame_url=crops.get("frame")
        ),
        latency_ms=row["latency_ms"],
        node=NodeInfo(site=row["site"], host=row["host"]),
        extras=row["extras"] or {},
    )
    return StoredEvent(event, crops, alerts, distance)
