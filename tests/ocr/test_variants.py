import cv2
import numpy as np

from ovr_alpr.ocr.variants import crop_variants, deskew, find_char_band


def _plate(text="AB123C", blue_band=False):
    """A rendered plate: dark characters, a frame, a small line of text above, optionally an EU band."""
    img = np.full((60, 240, 3), 235, np.uint8)
    cv2.rectangle(img, (1, 1), (238, 58), (20, 20, 20), 2)
    cv2.putText(img, "state of somewhere", (60, 11), cv2.FONT_HERSHEY_PLAIN, 0.6, (40, 40, 40), 1)
    x0 = 12
    if blue_band:
        img[3:57, 3:24] = (180, 60, 20)
        cv2.putText(img, "D", (8, 50), cv2.FONT_HERSHEY_PLAIN, 0.8, (255, 255, 255), 1)
        x0 = 38
    for i, ch in enumerate(text):  # one glyph at a time, so no two touch whatever the font rendering
        cv2.putText(img, ch, (x0 + 26 * i, 48), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (15, 15, 15), 2)
    return img


def test_char_band_finds_the_main_characters():
    band = find_char_band(_plate())
    assert band is not None and band.count == 6
    x1, y1, x2, y2 = band.xyxy
    assert 18 <= y1 <= 28 and 44 <= y2 <= 52  # the big characters, not the line above or the frame
    assert x1 < 20 and x2 > 150
    assert 20 <= band.char_height_px <= 30


def test_char_band_light_on_dark():
    band = find_char_band(255 - _plate())
    assert band is not None and band.count >= 6


def test_no_band_on_blank_or_tiny_crops():
    assert find_char_band(np.full((40, 160, 3), 255, np.uint8)) is None
    assert find_char_band(np.zeros((5, 30, 3), np.uint8)) is None


def test_variants_cut_to_the_band_and_drop_the_eu_strip():
    plate = _plate(blue_band=True)
    full, rows, band = crop_variants(plate, ("full", "band_rows", "band"))
    assert full is plate
    assert rows.shape[1] == plate.shape[1] and rows.shape[0] < plate.shape[0]
    assert band.shape[0] == rows.shape[0] and band.shape[1] < plate.shape[1]
    blue = (band[..., 0].astype(int) - band[..., 2].astype(int)) > 100
    assert blue.mean() < 0.02  # the blue country band is cut away


def test_variants_fall_back_to_the_crop():
    blank = np.full((40, 160, 3), 255, np.uint8)
    out = crop_variants(blank, ("band_rows", "band"))
    assert len(out) == 1 and out[0] is blank


def test_skewed_plate_is_straightened_before_cutting():
    plate = cv2.copyMakeBorder(_plate(), 10, 10, 0, 0, cv2.BORDER_REPLICATE)
    h, w = plate.shape[:2]
    tilted = cv2.warpAffine(
        plate, cv2.getRotationMatrix2D((w / 2, h / 2), 8.0, 1.0), (w, h), borderMode=cv2.BORDER_REPLICATE
    )
    band = find_char_band(tilted)
    assert band is not None and -10 < band.angle_deg < -6  # text rising to the right
    assert abs(find_char_band(deskew(tilted, band.angle_deg)).angle_deg) < 1.5
    (straight,) = crop_variants(tilted, ("band_rows",))
    (kept,) = crop_variants(tilted, ("band_rows",), min_skew_deg=90)
    assert straight.shape[0] <= kept.shape[0] - 6  # a straight line of characters needs fewer rows
