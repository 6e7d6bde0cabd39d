"""Where the embedded default models live (they ship inside PyPI packages, so they work offline)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import ModelError

# role -> (python package, path inside it, licence, what it is)
EMBEDDED = {
    "plate": (
        "platedet",
        "artifacts/platedet.onnx",
        "AGPL-3.0",
        "Ultralytics YOLOv8s-seg trained on plates, FP16, 1x3x640x640",
    ),
    "plate_ovr": (
        "ovr_alpr",
        "assets/plate_detector.onnx",
        "AGPL-3.0-or-later",
        "OVR-ALPR nano plate detector, YOLOv8n (ovr-alpr train detector), FP16, boxes tight to the plate",
    ),
    "plate_ovr_cpu": (
        "ovr_alpr",
        "assets/plate_detector_cpu.onnx",
        "AGPL-3.0-or-later",
        "OVR-ALPR nano plate detector trained on the CPU alone (plate_detector.type: ovr_cpu), FP16, 640",
    ),
    "ocr": (
        "rapidocr_onnxruntime",
        "models/ch_PP-OCRv4_rec_infer.onnx",
        "Apache-2.0",
        "PP-OCRv4 text recognition (CTC), dynamic width, 48 px high",
    ),
    "reader": (
        "ovr_alpr",
        "assets/plate_reader.onnx",
        "AGPL-3.0-or-later",
        "OVR-ALPR plate reader, CNN + CTC (ovr-alpr train reader), uint8 Nx64x128x3 RGB",
    ),
    "reader_blur": (
        "ovr_alpr",
        "assets/plate_reader_blur.onnx",
        "AGPL-3.0-or-later",
        "OVR-ALPR plate reader trained on smeared plates too, the default reader's second opinion",
    ),
    "reader_context": (
        "ovr_alpr",
        "assets/plate_reader_context.onnx",
        "AGPL-3.0-or-later",
        "OVR-ALPR plate reader with row context (ocr.type: ovr_context), trained on the CPU alone",
    ),
}


def default_model_path(role: str) -> Path:
    """Path of the embedded model for `role`: `plate` (platedet), `plate_ovr` (our own plate detector),
    `plate_ovr_cpu` (ours, trained on the CPU alone), `ocr`
    (PP-OCRv4), `reader` (our own), `reader_blur` (its second opinion on unsure reads) or `reader_context`
    (`ocr.type: ovr_context`)."""
    if role not in EMBEDDED:
        raise ModelError(
            f"no embedded model for role {role!r}",
            f"set its model.path; embedded roles: {', '.join(EMBEDDED)}",
        )
    package, rel, _, _ = EMBEDDED[role]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"embedded {role} model needs the Python package {package}", f"pip install {package}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / rel
    if not path.is_file():
        raise ModelError(f"embedded {role} model {path} is missing", f"reinstall {package}")
    return path


# the pipeline names roles after config sections; the model toolkit uses the short names
ROLE_ALIASES = {
    "plate_detector": "plate",
    "vehicle_detector": "vehicle",
    "plate": "plate",
    "vehicle": "vehicle",
    "ocr": "ocr",
}
CONFIG_SECTIONS = {"plate": "plate_detector", "vehicle": "vehicle_detector", "ocr": "ocr"}


def canonical_role(role: str) -> str:
    """`plate`, `vehicle` or `ocr` for a role or config-section name (unknown names pass through)."""
    return ROLE_ALIASES.get(role, role)


def config_section(role: str) -> str:
    """The config key holding `role`'s model (`plate` -> `plate_detector`)."""
    return CONFIG_SECTIONS.get(canonical_role(role), role)
