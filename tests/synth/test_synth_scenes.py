"""Rendered detector-training scenes: boxes in the frame, close-ups large, determinism, real plate crops."""

from __future__ import annotations

import numpy as np
import pytest

from ovr_alpr.synth.scenes import SCENE_KINDS, osd_line, render_scene


@pytest.mark.parametrize("kind", SCENE_KINDS)
def test_scene_boxes_lie_inside_the_frame(kind: str) -> None:
    for i in range(2):
        scene = render_scene(np.random.default_rng([1, i]), kind=kind, size=(320, 240))
        assert scene.image.shape == (240, 320, 3) and scene.image.dtype == np.uint8
        boxes = scene.plate_boxes_xyxy
        assert boxes.shape[1] == 4 and scene.kind == kind
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 320).all() and (boxes[:, 3] <= 240).all()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()


def test_closeups_fill_most_of_the_frame_width() -> None:
    widths = []
    for i in range(4):
        scene = render_scene(np.random.default_rng([2, i]), kind="closeup", size=(320, 240))
        widths += [(b[2] - b[0]) / 320 for b in scene.plate_boxes_xyxy]
    assert len(widths) >= 3 and min(widths) >= 0.4


def test_same_seed_same_scene_and_real_plate_crops_are_mounted() -> None:
    a = render_scene(np.random.default_rng([3, 0]), kind="road", size=(320, 240))
    b = render_scene(np.random.default_rng([3, 0]), kind="road", size=(320, 240))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.plate_boxes_xyxy, b.plate_boxes_xyxy)
    magenta = np.zeros((40, 90, 3), np.uint8)
    magenta[:] = (255, 0, 255)
    shown = 0
    for i in range(4):  # a crop is mounted two times in three; night may turn it grey
        scene = render_scene(
            np.random.default_rng([3, i]), kind="closeup", size=(320, 240), plate_crops=[magenta] * 3
        )
        x1, y1, x2, y2 = scene.plate_boxes_xyxy[0].astype(int)
        cy, cx = (y1 + y2) // 2, (x1 + x2) // 2
        b, g, r = scene.image[cy - 2 : cy + 2, cx - 2 : cx + 2].reshape(-1, 3).mean(axis=0)
        shown += b > 2 * g + 10 and r > 2 * g + 10  # the crop's magenta shows at the plate's centre
    assert shown >= 1


def test_on_screen_text_is_drawn_off_the_plates_and_leaves_the_scene_as_before() -> None:
    drew = 0
    for i, kind in enumerate(("road", "closeup", "parked", "road")):
        plain = render_scene(np.random.default_rng([4, i]), kind=kind, size=(640, 360))
        again = render_scene(np.random.default_rng([4, i]), kind=kind, size=(640, 360), osd=0.0)
        drawn = render_scene(np.random.default_rng([4, i]), kind=kind, size=(640, 360), osd=1.0)
        # its random numbers are drawn after the scene's: osd=0 is the old scene exactly, same plates
        assert np.array_equal(again.image, plain.image)
        assert np.array_equal(drawn.plate_boxes_xyxy, plain.plate_boxes_xyxy)
        changed = np.any(drawn.image != plain.image, axis=2)
        drew += bool(changed.any())
        for x1, y1, x2, y2 in plain.plate_boxes_xyxy.astype(int):
            assert not changed[y1:y2, x1:x2].any(), f"on-screen text over a plate ({kind} scene {i})"
    assert drew >= 3


def test_on_screen_text_lines_look_like_a_camera_s() -> None:
    lines = [osd_line(np.random.default_rng([5, i])) for i in range(60)]
    assert sum(":" in line for line in lines) >= 15  # clocks
    assert all(0 < len(line) <= 32 for line in lines) and len(set(lines)) >= 55
