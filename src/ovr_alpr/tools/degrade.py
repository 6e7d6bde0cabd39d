"""A labelled image set as a worse camera delivers it: `python -m ovr_alpr.tools.degrade SRC DST --smear 5`.

Writes a copy of SRC (any layout: every image is degraded, every other file, labels included, copied as it
is, at the same relative path) into DST, for `ovr-alpr eval --dataset DST` / `ovr-alpr validate`:

- `--smear PX`: a sideways streak PX pixels long over the whole image, at its own resolution (a car
  crossing the view at a slow shutter; at night a camera exposes for 1/50 s and more);
- `--grey`: one channel repeated three times (a camera at night, on infrared);
- `--jpeg Q`: compressed at JPEG quality Q (a camera's or a recorder's hard compression); a JPEG image is
  written as that encoding, once, other formats losslessly after the round trip.

The boxes stay where they are, so the figures against the untouched set show what each effect costs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

from ..imaging import IMAGE_SUFFIXES, jpeg_roundtrip


def degrade(image: np.ndarray, smear_px: int = 0, grey: bool = False, jpeg: int = 0) -> np.ndarray:
    """`image` (BGR) with the chosen effects, in the order a camera makes them: motion, sensor, encoder."""
    out = image
    if smear_px > 1:
        kernel = np.full((1, smear_px), 1.0 / smear_px, np.float32)
        out = cv2.filter2D(out, -1, kernel, borderType=cv2.BORDER_REPLICATE)
    if grey:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return jpeg_roundtrip(out, jpeg) if jpeg else out


def degrade_set(
    src: Path, dst: Path, smear_px: int = 0, grey: bool = False, jpeg: int = 0
) -> tuple[int, int]:
    """Copy `src` into `dst` with every image degraded; returns (images written, unreadable images skipped).

    Raises:
        ValueError: `src` is not a folder, or `dst` lies inside it (the copy would be read as part of it).
    """
    src, dst = src.resolve(), dst.resolve()
    if not src.is_dir():
        raise ValueError(f"{src} is not a folder: give the labelled set's folder (openalpr or YOLO layout)")
    if dst == src or src in dst.parents:
        raise ValueError(f"{dst} lies inside {src}: choose an output folder outside the set")
    written = skipped = 0
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            shutil.copyfile(path, target)
            continue
        image = cv2.imread(str(path))
        if image is None:
            skipped += 1
            continue
        if jpeg and target.suffix.lower() in (".jpg", ".jpeg"):  # encoded once, at that quality
            ok = cv2.imwrite(str(target), degrade(image, smear_px, grey), [cv2.IMWRITE_JPEG_QUALITY, jpeg])
        else:
            ok = cv2.imwrite(str(target), degrade(image, smear_px, grey, jpeg))
        if not ok:
            raise ValueError(f"{target} could not be written: check the folder's free space and rights")
        written += 1
    return written, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ovr_alpr.tools.degrade", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("src", type=Path, help="labelled image set (openalpr or YOLO layout)")
    parser.add_argument("dst", type=Path, help="folder for the degraded copy (outside SRC)")
    parser.add_argument("--smear", type=int, default=0, metavar="PX", help="sideways motion streak, px")
    parser.add_argument("--grey", action="store_true", help="grey (infrared) frames")
    parser.add_argument("--jpeg", type=int, default=0, metavar="Q", help="JPEG quality 1-100 (0: none)")
    args = parser.parse_args(argv)
    if args.smear < 0 or not 0 <= args.jpeg <= 100:
        print("error: --smear must be >= 0 and --jpeg 0-100; pass e.g. --smear 5 --jpeg 40", file=sys.stderr)
        return 2
    try:
        written, skipped = degrade_set(args.src, args.dst, args.smear, args.grey, args.jpeg)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    note = f", {skipped} unreadable image(s) skipped" if skipped else ""
    print(f"{written} images written to {args.dst}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
