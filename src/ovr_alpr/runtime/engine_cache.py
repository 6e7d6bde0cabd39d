"""Cache keys of TensorRT engines (kept apart from the backend so they can be computed without TensorRT)."""

from __future__ import annotations

import re


def engine_cache_key(
    gpu_name: str,
    compute_capability: str,
    trt_version: str,
    precision: str,
    input_hw: tuple[int, int] | None,
    batch: int,
    source_sha256: str,
) -> str:
    """File-name-safe key of everything an engine depends on; any change gives a new key (and a rebuild).

    Example:
        >>> engine_cache_key("NVIDIA H100", "90", "10.13.0", "fp16", (640, 640), 1, "ab" * 32)
        'nvidia-h100-sm90-trt10.13.0-fp16-640x640-b1-abababababab'
    """
    gpu = re.sub(r"[^a-z0-9]+", "-", gpu_name.lower()).strip("-") or "gpu"
    size = "x".join(str(v) for v in input_hw) if input_hw else "dyn"
    return f"{gpu}-sm{compute_capability}-trt{trt_version}-{precision}-{size}-b{batch}-{source_sha256[:12]}"
