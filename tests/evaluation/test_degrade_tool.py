"""`python -m ovr_alpr.tools.degrade`: a labelled set as a worse camera delivers it, labels kept."""

from __future__ import annotations

import cv2
import numpy as np

from ovr_alpr.evaluation.datasets import load_dataset
from ovr_alpr.tools.degrade import degrade, main


def _plate_image() -> np.ndarray:
    img = np.full((120, 320, 3), (40, 90, 160), np.uint8)
    cv2.rectangle(img, (60, 40), (260, 90), (235, 235, 235), -1)
    cv2.putText(img, "AB123", (70, 82), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (10, 10, 10), 3, cv2.LINE_AA)
    return img


def _sideways_edges(img: np.ndarray) -> float:
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return float((np.diff(grey, axis=1) ** 2).mean())  # squared: a blur spreads an edge, lowering it


def test_smear_grey_and_jpeg_change_what_they_say():
    img = _plate_image()
    assert np.array_equal(degrade(img), img)
    smeared = degrade(img, smear_px=7)
    assert smeared.shape == img.shape and _sideways_edges(smeared) < 0.6 * _sideways_edges(img)
    grey = degrade(img, grey=True)
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 1], grey[..., 2])
    assert not np.array_equal(degrade(img, jpeg=20), img)


def test_the_copy_keeps_the_labels_and_skips_unreadable_images(tmp_path, capsys):
    src, dst = tmp_path / "set", tmp_path / "smeared"
    (src / "sub").mkdir(parents=True)
    cv2.imwrite(str(src / "sub" / "car1.jpg"), _plate_image())
    (src / "sub" / "car1.txt").write_text("car1.jpg 60 40 200 50 AB123\n")
    (src / "broken.jpg").write_bytes(b"not a jpeg")
    assert main([str(src), str(dst), "--smear", "5", "--jpeg", "60"]) == 0
    assert "1 images written" in capsys.readouterr().out
    [sample] = load_dataset(dst)
    assert sample.texts == ["AB123"] and sample.image_path == dst / "sub" / "car1.jpg"
    assert (dst / "sub" / "car1.txt").read_text() == (src / "sub" / "car1.txt").read_text()
    assert not (dst / "broken.jpg").exists()
    assert _sideways_edges(cv2.imread(str(sample.image_path))) < _sideways_edges(_plate_image())


def test_an_output_inside_the_set_or_bad_options_exit_2_with_a_reason(tmp_path, capsys):
    (tmp_path / "set").mkdir()
    assert main([str(tmp_path / "set"), str(tmp_path / "set" / "copy"), "--smear", "3"]) == 2
    assert "lies inside" in capsys.readouterr().err
    assert main([str(tmp_path / "set"), str(tmp_path / "out"), "--jpeg", "300"]) == 2
    assert "--jpeg 0-100" in capsys.readouterr().err
    assert main([str(tmp_path / "nothing"), str(tmp_path / "out")]) == 2
    assert "not a folder" in capsys.readouterr().err
