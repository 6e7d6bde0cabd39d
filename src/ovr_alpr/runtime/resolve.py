"""Precision resolution: the ONNX file a backend should load for a wanted precision, derived once and cached.

Derived files live in `<cache>/models/` under a name keyed by the source's sha256, the precision, the
box-only pruning or the any-size head cut, and (for INT8) the calibration set's hash and the quantization
options, so a change to any of them builds a new file and an unchanged one is reused.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import onnx

from ..errors import ModelError, first_line
from .convert import (
    PRECISION_KEY,
    detect_onnx_precision,
    fp16_to_fp32,
    fp32_to_fp16,
    prune_outputs,
    save,
    set_metadata,
    to_raw_head,
    yolo_head_outputs,
)
from .quantize import QuantizeOptions, options_for
from .zoo import canonical_role, config_section

if TYPE_CHECKING:
    from .calibration import CalibrationSet

log = logging.getLogger(__name__)

# INT8 calibration uses at most this many images of the calibration folder (spread evenly over it):
# measured on the plate detector, more images did not change the ranges enough to matter.
CALIBRATION_MAX_IMAGES = 64

_sha_cache: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "ovr-alpr"


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) for the life of the process."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    with _lock:
        if key in _sha_cache:
            return _sha_cache[key]
    digest = hashlib.sha256()
    with p.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _lock:
        _sha_cache[key] = value
    return value


def is_seg_model(model: onnx.ModelProto) -> bool:
    """An Ultralytics segmentation export: a second output holding 4-D mask prototypes."""
    outs = model.graph.output
    return (
        len(outs) == 2
        and len(outs[1].type.tensor_type.shape.dim) == 4
        and (len(outs[0].type.tensor_type.shape.dim) == 3)
    )


@dataclass(frozen=True)
class DerivedSpec:
    """What to derive from a source ONNX model.

    Attributes:
        precision: `fp32`, `fp16` or `int8`.
        box_only: drop the mask-prototype branch of a segmentation model (only boxes are used).
        calibration: image folder for INT8.
        quant: INT8 options (None = defaults).
        role: `plate`, `vehicle` or `ocr`, which picks the calibration preprocessing.
        fmt: detector format for `vehicle` (`yolov8`, `yolox`, `auto`).
        rect: cut an Ultralytics YOLO detector at its head convs, with any input size (`convert.to_raw_head`),
            so it runs on frames letterboxed to their own aspect; other models are left as they are.
        calibration_size: for INT8 of a model whose input size is not fixed (a `rect` cut), the square side
            calibration images are letterboxed to: the size the detector runs at (None = 640). Calibrating
            at another scale than the one run at shifts the activation ranges: a nano detector run at 512 and
            calibrated at 640 lost 7.5 points of US mAP50 against 4.8 calibrated at 512.
    """

    precision: str
    box_only: bool = True
    calibration: str | None = None
    quant: QuantizeOptions | None = None
    role: str = "plate"
    fmt: str = "auto"
    rect: bool = False
    calibration_size: int | None = None


def derive_onnx(
    source: str | Path,
    spec: DerivedSpec,
    cache_dir: str | Path | None = None,
    output: str | Path | None = None,
) -> Path:
    """Return the ONNX file for `spec`: the source itself when nothing changes, else a cached derived file.

    Args:
        source: the original ONNX model.
        spec: wanted precision and options.
        cache_dir: cache root (derived files go to `<cache_dir>/models/`); default ~/.cache/ovr-alpr.
        output: write here instead of the cache (for `ovr-alpr export`); always written.

    Raises:
        ModelError: the source is missing or unreadable, INT8 has no calibration images, or a
            conversion fails.
    """
    source = Path(source)
    role = canonical_role(spec.role)
    model = _load_source(source, spec)
    src_precision = detect_onnx_precision(model)
    cut = spec.rect and bool(yolo_head_outputs(model))
    prune = spec.box_only and is_seg_model(model) and not cut
    if _source_as_is(source, spec, src_precision, prune or cut, output):
        return source

    sha = file_sha256(source)
    quant = spec.quant or options_for(role)
    calib = _calibration_set(spec, role) if spec.precision == "int8" and src_precision != "int8" else None
    tag = spec.precision + ("-box" if prune else "") + ("-rect" if cut else "")
    if calib is not None:
        size = f"|{spec.calibration_size}" if spec.calibration_size else ""
        qtext = f"{quant.key()}|{calib.sha256}|{role}|{spec.fmt}{size}"
        qkey = hashlib.sha256(qtext.encode()).hexdigest()[:10]
        tag += f"-q{qkey}"
    cache_root = Path(cache_dir or default_cache_dir())
    target = Path(output) if output else cache_root / "models" / f"{role}-{source.stem}-{sha[:12]}-{tag}.onnx"
    if output is None and target.is_file():
        log.debug("using cached %s", target)
        return target

    log.info("deriving %s %s model from %s -> %s", spec.precision, role, source.name, target)
    derived = _derive(model, src_precision, spec, prune, calib, quant, cut)
    set_metadata(
        derived, ovr_alpr_source_sha256=sha, ovr_alpr_source=source.name, **{PRECISION_KEY: spec.precision}
    )
    return save(derived, target)


def _load_source(source: Path, spec: DerivedSpec) -> onnx.ModelProto:
    """The source graph (weights left on disk), after checking the file and the wanted precision."""
    if not source.is_file():
        raise ModelError(f"model file {source} not found", "check the path")
    if spec.precision not in ("fp32", "fp16", "int8"):
        raise ModelError(f"unknown precision {spec.precision!r}", "use fp32, fp16 or int8")
    try:
        return onnx.load(str(source), load_external_data=False)
    except Exception as exc:
        raise ModelError(
            f"cannot read ONNX model {source}: {first_line(exc, 160)}",
            "check that the file is a valid ONNX model",
        ) from None


def _source_as_is(
    source: Path, spec: DerivedSpec, src_precision: str, prune: bool, output: str | Path | None
) -> bool:
    """The source already is what `spec` asks for, or is INT8 (which cannot be widened back)."""
    if src_precision == "int8" and spec.precision != "int8":
        log.warning(
            "%s is already INT8; it cannot be turned back into %s, using it as it is",
            source.name,
            spec.precision,
        )
        return True
    return src_precision == spec.precision and not prune and output is None


def _calibration_set(spec: DerivedSpec, role: str) -> CalibrationSet:
    """The INT8 calibration images (an even spread of at most CALIBRATION_MAX_IMAGES), or ModelError."""
    from .calibration import CalibrationSet

    if not spec.calibration:
        raise ModelError(
            f"INT8 for the {role} model needs calibration images",
            f"set {config_section(role)}.model.calibration to an image folder "
            "(build one with `ovr-alpr calib`)",
        )
    return CalibrationSet.from_folder(spec.calibration, limit=CALIBRATION_MAX_IMAGES)


def _derive(
    model: onnx.ModelProto,
    src_precision: str,
    spec: DerivedSpec,
    prune: bool,
    calib,
    quant,
    cut: bool = False,
) -> onnx.ModelProto:
    if prune:
        model = prune_outputs(model, [model.graph.output[0].name])
    if cut:
        model = to_raw_head(model)
    try:
        if spec.precision == "fp32":
            return fp16_to_fp32(model) if src_precision == "fp16" else model
        if spec.precision == "fp16":
            return model if src_precision == "fp16" else fp32_to_fp16(model)
        if src_precision == "int8":
            return model
    except Exception as exc:
        raise ModelError(
            f"{src_precision} -> {spec.precision} conversion failed: {first_line(exc, 160)}",
            "try --debug for the traceback",
        ) from exc
    from .calibration import preprocess_for
    from .quantize import quantize_int8

    input_shape = tuple(d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim)
    if spec.calibration_size and len(input_shape) == 4 and not all(d > 0 for d in input_shape[2:]):
        input_shape = (*input_shape[:2], spec.calibration_size, spec.calibration_size)
    role = canonical_role(spec.role)
    preprocess = preprocess_for(role, input_shape, spec.fmt)
    return quantize_int8(model, calib.batches(preprocess, role), quant, calib.sha256)
