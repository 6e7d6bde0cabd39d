"""The on-screen-text check: which boxes count as boxes on the camera's text."""

from __future__ import annotations

import numpy as np

from ovr_alpr.tools.osd import boxes_on_text


def test_a_box_on_changed_pixels_that_is_no_plate_counts_once():
    changed = np.zeros((100, 200), bool)
    changed[5:15, 5:80] = True  # the text's pixels
    plates = np.array([[100, 60, 160, 80]], np.float32)
    boxes = np.array(
        [
            [4, 4, 82, 16],  # on the text
            [100, 60, 160, 80],  # the plate itself
            [120, 20, 180, 40],  # a false box elsewhere: not the text's fault
        ],
        np.float32,
    )
    assert boxes_on_text(boxes, plates, changed) == 1
    assert boxes_on_text(boxes, np.zeros((0, 4), np.float32), changed) == 1
    assert boxes_on_text(np.zeros((0, 4), np.float32), plates, changed) == 0


def test_the_scene_checks_print_their_figures_and_write_json(tmp_path, capsys):
    import json

    from ovr_alpr.tools.scene_checks import check_main

    seen = []

    def measure(config, n):
        seen.append((config, n))
        return {"scenes": n}

    out = tmp_path / "o" / "r.json"
    assert check_main("doc", measure, 7, ["--json", str(out)]) == 0
    assert seen == [(None, 7)] and json.loads(capsys.readouterr().out) == {"scenes": 7}
    assert json.loads(out.read_text()) == {"scenes": 7}
