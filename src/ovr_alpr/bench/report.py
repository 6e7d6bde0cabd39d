"""The benchmark's side-by-side table (ratios against the stock baseline) and its PNG chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..evaluation.metrics import size_buckets_doc
from .runs import STAGES


def baseline_name(runs: dict[str, dict[str, Any]]) -> str | None:
    """`stock` when it ran, else the first configuration (other than decode_only) that ran."""
    ok = [name for name, r in runs.items() if "error" not in r and name != "decode_only"]
    if "stock" in ok:
        return "stock"
    return ok[0] if ok else None


def add_ratios(runs: dict[str, dict[str, Any]]) -> str | None:
    """Adds `fps_vs_<baseline>` to every run that has an fps; returns the baseline's name."""
    base = baseline_name(runs)
    base_fps = runs[base]["fps"] if base else 0.0
    for run in runs.values():
        if base_fps and "fps" in run:
            run[f"fps_vs_{base}"] = round(run["fps"] / base_fps, 2)
    return base


def _pct(value: float | None) -> float | None:
    return None if value is None else 100 * value


def _size_cell(by_size: dict[str, dict] | None) -> str:
    if not by_size:
        return "-"
    return "/".join(_cell(_pct(b["recall"]), "{:.0f}") for b in by_size.values())


def _cell(value: Any, fmt: str = "{:.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def table_lines(runs: dict[str, dict[str, Any]], baseline: str | None) -> list[str]:
    stages = [s for s in STAGES if any(s in r.get("stages", {}) for r in runs.values())]
    header = [
        "run",
        "fps",
        f"x {baseline}" if baseline else "x",
        *(f"{s} p50" for s in stages),
        "ocr/veh",
        "cpu %",
        "rss MB",
        "plates",
        "det rec",
        "small/med/close",
    ]
    rows = [header]
    for name, r in runs.items():
        if "error" in r:
            rows.append([name, "error: " + r["error"]])
            continue
        st = r.get("stages", {})
        plates = r.get("plates_read")
        rows.append(
            [
                name,
                _cell(r.get("fps")),
                _cell(r.get(f"fps_vs_{baseline}"), "{:.2f}"),
                *(_cell(st.get(s, {}).get("p50_ms"), "{:.2f}") for s in stages),
                _cell(r.get("ocr_calls_per_vehicle"), "{:.1f}"),
                _cell(r.get("cpu_percent"), "{:.0f}"),
                _cell(r.get("peak_rss_mb"), "{:.0f}"),
                "-" if plates is None else str(plates),
                _cell(_pct(r.get("detection_recall")), "{:.1f}"),
                _size_cell(r.get("detection_recall_by_size")),
            ]
        )
    widths = [
        max(len(row[i]) for row in rows if len(row) > i and len(row) == len(header))
        for i in range(len(header))
    ]
    lines = []
    for row in rows:
        if len(row) != len(header):
            lines.append(f"{row[0]:<{widths[0]}}  {row[1]}")
        else:
            lines.append(
                "  ".join(
                    c.ljust(w) if i == 0 else c.rjust(w)
                    for i, (c, w) in enumerate(zip(row, widths, strict=True))
                )
            )
    lines.insert(1, "-" * len(lines[0]))
    lines.append(
        "stage columns: p50 ms per call; fps: clip frames per wall second; ocr/veh: OCR calls per vehicle"
    )
    lines.append(
        "det rec: % of the clip's plate boxes found at IoU 0.5 in the frames detected on, then by size "
        f"({size_buckets_doc()}; - = no plate of that size)"
    )
    return lines


def write_json(report: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def write_chart(runs: dict[str, dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """Two panels: fps per run (decode_only as the ceiling line) and each stage's ms per frame, stacked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = {n: r for n, r in runs.items() if "error" not in r}
    names = [n for n in done if n != "decode_only"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2))
    bars = ax1.bar(names, [done[n]["fps"] for n in names], color="#3a7bd5")
    ax1.bar_label(bars, fmt="%.1f")
    if "decode_only" in done:
        ceiling = done["decode_only"]["fps"]
        ax1.axhline(ceiling, color="#d53a3a", linestyle="--", label=f"decode only {ceiling:.0f} fps")
        ax1.legend(loc="upper left")
    fps_values = [done[n]["fps"] for n in (*names, "decode_only") if n in done and done[n]["fps"] > 0]
    if fps_values and max(fps_values) / min(fps_values) > 20:  # the decode ceiling would flatten the bars
        ax1.set_yscale("log")
    ax1.set_ylabel("clip frames per second")
    ax1.set_title("throughput")
    bottom = [0.0] * len(names)
    for stage in STAGES:
        values = [done[n].get("stage_ms_per_frame", {}).get(stage, 0.0) for n in names]
        if any(values):
            ax2.bar(names, values, bottom=bottom, label=stage)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax2.set_ylabel("ms per processed frame, stacked")
    ax2.set_title("where the time goes")
    ax2.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
