"""Zones, masks and entry/exit lines on a generated clip with vehicles crossing both ways (scripted detector).

In `make_clip`, lane 0 (left) approaches the camera, moving down the frame; lane 1 (right) drives away,
moving up. A line drawn left to right across the middle makes lane 0 `in` and lane 1 `out`.
"""

from __future__ import annotations

import json
from collections import deque

import numpy as np
import pytest
from pydantic import ValidationError

from ovr_alpr.config import CameraConfig, EventsConfig, LineConfig
from ovr_alpr.detect.plates import PlateFinder
from ovr_alpr.pipeline import Pipeline
from ovr_alpr.pipeline.config import AppConfig
from ovr_alpr.plate_text.normalize import PlateNormalizer
from ovr_alpr.synth.clip import make_clip
from ovr_alpr.track.state import TrackState
from ovr_alpr.track.zones import CameraGeometry
from scripted import ConfidentReader, ScriptedDetector

MIDDLE_LINE = {"name": "gate", "points": [[0.0, 0.5], [1.0, 0.5]]}
LEFT_HALF = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]
RIGHT_HALF = [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("zones") / "c.mp4"
    return path, make_clip(path, vehicles=4, size=(640, 360), seconds=8, fps=12, seed=3)


def _run(tmp_path, clip, sinks=None, **camera):
    path, manifest = clip
    config = AppConfig(
        cameras=[CameraConfig(id="gate", source=str(path), **camera)],
        output_dir=str(tmp_path),
        save_crops=False,
        events={"dedup_window_s": 0},  # every vehicle reads the same text here
        sinks=sinks or [],
    )
    pipeline = Pipeline(config, finder=PlateFinder(ScriptedDetector(manifest)), reader=ConfidentReader())
    return pipeline.run()


def _lane(manifest, event) -> int:
    """The lane of the vehicle whose plate box, in the event's frame, is the event's box."""
    frame, box = event.extras["frame_number"], np.array(event.extras["bbox"])
    for v in manifest.vehicles:
        if frame in v.plate_boxes_xyxy and np.abs(np.array(v.plate_boxes_xyxy[frame]) - box).max() < 1:
            return v.lane
    raise AssertionError(f"no vehicle has box {box} in frame {frame}")


def _crosses_middle(vehicle, height: int) -> bool:
    ys = [(b[1] + b[3]) / 2 for b in vehicle.plate_boxes_xyxy.values()]
    return min(ys) < 0.45 * height and max(ys) > 0.55 * height


def test_lines_give_in_and_out_with_heading_both_ways(tmp_path, clip):
    _, manifest = clip
    result = _run(tmp_path, clip, lines=[MIDDLE_LINE])
    crossing = [v for v in manifest.vehicles if _crosses_middle(v, manifest.height_px)]
    assert {v.lane for v in crossing} == {0, 1}, "the clip must have vehicles crossing both ways"
    by_lane = {0: [], 1: []}
    for event in result.events:
        by_lane[_lane(manifest, event)].append(event)
    assert len(by_lane[0]) == sum(v.lane == 0 for v in crossing)
    assert len(by_lane[1]) == sum(v.lane == 1 for v in crossing)
    for event in by_lane[0]:  # approaching: down the frame
        assert event.extras["direction"] == "in" and event.extras["line"] == "gate"
        assert 240 <= event.extras["heading_deg"] <= 300
    for event in by_lane[1]:  # driving away: up the frame
        assert event.extras["direction"] == "out"
        assert 60 <= event.extras["heading_deg"] <= 120
    # the event waits for the crossing: its best shot may be earlier, but it is published after
    assert all(e.extras["zones"] == [] for e in result.events)


def test_inverted_line_swaps_in_and_out(tmp_path, clip):
    _, manifest = clip
    result = _run(tmp_path, clip, lines=[{**MIDDLE_LINE, "invert": True}])
    assert result.events
    for event in result.events:
        assert event.extras["direction"] == ("out" if _lane(manifest, event) == 0 else "in")


def test_zone_keeps_only_its_plates_and_names_itself(tmp_path, clip):
    _, manifest = clip
    everything = _run(tmp_path / "all", clip)
    left = _run(tmp_path / "left", clip, zones=[{"name": "inbound", "points": LEFT_HALF}])
    assert {_lane(manifest, e) for e in everything.events} == {0, 1}
    assert left.events and {_lane(manifest, e) for e in left.events} == {0}
    assert all(e.extras["zones"] == ["inbound"] for e in left.events)
    # dropped before tracking and OCR
    assert left.stats["plate_observations"] < everything.stats["plate_observations"]
    assert left.stats["tracks"] < everything.stats["tracks"]


def test_mask_drops_plates_inside_it(tmp_path, clip):
    _, manifest = clip
    masked = _run(tmp_path, clip, masks=[RIGHT_HALF])
    assert masked.events and {_lane(manifest, e) for e in masked.events} == {0}


def test_zone_min_plate_width(tmp_path, clip):
    wide = _run(tmp_path, clip, zones=[{"name": "z", "points": LEFT_HALF, "min_plate_width_px": 2000}])
    assert wide.events == [] and wide.stats["plate_observations"] == 0


def test_sinks_filtered_by_direction_and_zone_lists(tmp_path, clip):
    sinks = [
        {
            "type": "jsonl",
            "name": "entries",
            "path": str(tmp_path / "in.jsonl"),
            "only": {"directions": ["in"]},
        },
        {"type": "jsonl", "name": "everything", "path": str(tmp_path / "all.jsonl")},
        {"type": "jsonl", "name": "left-only", "path": str(tmp_path / "left.jsonl")},
    ]
    zones = [
        {"name": "left", "points": LEFT_HALF, "sinks": ["everything", "left-only", "entries"]},
        {"name": "right", "points": RIGHT_HALF, "sinks": ["everything", "entries"]},
    ]
    result = _run(tmp_path, clip, sinks=sinks, zones=zones, lines=[MIDDLE_LINE])

    def ids(name):
        lines = (tmp_path / name).read_text().splitlines() if (tmp_path / name).exists() else []
        return {json.loads(x)["event_id"] for x in lines}

    events = {e.event_id: e for e in result.events}
    assert ids("all.jsonl") == set(events)
    assert ids("in.jsonl") == {i for i, e in events.items() if e.extras["direction"] == "in"} != set()
    assert ids("left.jsonl") == {i for i, e in events.items() if "right" not in e.extras["zones"]} != set()


# ---------------------------------------------------------------- geometry units


def test_smoothed_path_crosses_once_despite_jitter_and_heading_follows_the_turn():
    cam = CameraConfig(lines=[LineConfig(name="l", points=((0, 100), (200, 100)))])
    geometry = CameraGeometry(cam, (200, 200))
    state = TrackState(1, "c", 0, 0, (0, 0))
    rng = np.random.default_rng(0)
    crossings = []
    for i in range(40):  # moving down 2 px a frame through y=100, jittering +-6 px
        before = state.smoothed_point()
        state.path.append((100.0, 60.0 + 2 * i + float(rng.uniform(-6, 6))))
        if before is not None:
            crossings += geometry.crossings(before, state.smoothed_point())
    assert crossings == [("l", "in")]
    turn = TrackState(2, "c", 0, 0, (0, 0), path=deque([(float(x), 50.0) for x in range(0, 60, 3)]))
    turn.path.extend((60.0, 50.0 + 4 * k) for k in range(1, 12))  # right, then down
    assert 260 <= turn.heading_deg() <= 280  # recent travel, not first-vs-last (which is ~315)
    assert TrackState(3, "c", 0, 0, (0, 0), path=deque([(5.0, 5.0)] * 5)).heading_deg() is None


def test_segment_must_be_crossed_not_its_extension():
    cam = CameraConfig(lines=[{"points": [[0, 100], [50, 100]]}])
    geometry = CameraGeometry(cam, (200, 200))
    assert geometry.crossings((120, 90), (120, 110)) == []
    assert geometry.crossings((20, 110), (20, 90)) == [("line", "out")]


def test_config_checks():
    with pytest.raises(ValidationError, match="two different points"):
        CameraConfig(lines=[{"points": [[1, 1], [1, 1]]}])
    with pytest.raises(ValidationError, match="unique"):
        CameraConfig(zones=[{"name": "a", "points": LEFT_HALF}, {"name": "a", "points": RIGHT_HALF}])
    with pytest.raises(ValidationError, match="at least 3"):
        CameraConfig(masks=[[[0, 0], [1, 1]]])
    geometry = CameraGeometry(
        CameraConfig(zones=[{"name": "px", "points": [[10, 10], [50, 10], [50, 50]]}]), (100, 100)
    )
    assert geometry.zones_at(45, 20) == ["px"] and geometry.zones_at(5, 5) == []


def test_zone_references_are_checked():
    zone = {"name": "z", "points": LEFT_HALF}
    with pytest.raises(ValidationError, match=r"region 'xx' is not in events\.regions"):
        AppConfig(cameras=[{"zones": [{**zone, "region": "xx"}]}])
    with pytest.raises(ValidationError, match="no sink named hook"):
        AppConfig(cameras=[{"zones": [{**zone, "sinks": ["hook"]}]}])
    with pytest.raises(ValidationError, match="unknown zone"):
        AppConfig(sinks=[{"type": "jsonl", "path": "x.jsonl", "only": {"zones": ["nowhere"]}}])
    ok = AppConfig(
        cameras=[{"zones": [{**zone, "region": "eu", "sinks": ["hook"]}]}],
        sinks=[{"type": "jsonl", "name": "hook", "path": "x.jsonl", "only": {"zones": ["z"]}}],
    )
    assert ok.cameras[0].zones[0].sinks == ["hook"]


def test_zone_region_hint_is_tried_first():
    normalizer = PlateNormalizer(EventsConfig(regions={"a": r"^[A-Z0-9]{5,8}$", "b": r"^[A-Z]{2}[0-9]{3}$"}))
    assert normalizer("AB123").region == "a"
    assert normalizer("AB123", region_hint="b").region == "b"
