"""Writes an evaluation as JSON, a short summary, and a Markdown report with charts and a failure sheet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .metrics import MISS_CAUSES, PlateOutcome, char_errors, miss_cause, size_buckets_doc
from .runner import EvalResult

#: Failures shown on the contact sheet at most (the full list is in the report and the JSON).
MAX_SHEET_FAILURES = 48
_SHEET_COLUMNS = 4


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def size_recall_text(by_size: dict[str, dict]) -> str:
    """`small 80.0 % (4/5), medium ...` of a `SizeRecall.to_dict()`."""
    return ", ".join(
        f"{name} {_pct(b['recall'])} ({b['detected']}/{b['labels']})" for name, b in by_size.items()
    )


def _publish_text(row: dict) -> str:
    return (
        f"{_pct(row['share'])} of plates ({row['published']}), {_pct(row['precision'])} of them right "
        f"({row['wrong']} wrong)"
    )


def confidence_text(d: dict[str, Any]) -> str | None:
    """`reads with OCR confidence >= 0.6 (ocr.min_confidence): ...; >= 0.9: ...`, None without text labels."""
    rows = {r["threshold"]: r for r in d.get("reads_by_confidence", [])}
    if not rows or all(r["share"] is None for r in rows.values()):
        return None
    parts = []
    if d.get("min_confidence") in rows:
        parts.append(
            f">= {d['min_confidence']:g} (ocr.min_confidence) {_publish_text(rows[d['min_confidence']])}"
        )
    if 0.9 in rows and d.get("min_confidence") != 0.9:
        parts.append(f">= 0.9 {_publish_text(rows[0.9])}")
    return "reads with OCR confidence " + "; ".join(parts) if parts else None


def summary_lines(result: EvalResult) -> list[str]:
    d = result.to_dict()
    lines = [
        f"dataset {d['dataset']}: {d['n']} images, {d['labels']} labelled plates",
        f"exact match {_pct(d['exact_match'])} ({_pct(d['exact_match_confusable'])} with O=0, I=1)   "
        f"CER {_pct(d['cer'])}   "
        f"detection recall {_pct(d['detection_recall'])}   precision {_pct(d['detection_precision'])}   "
        f"(IoU 0.5)",
        f"{d['ms_per_image']:.1f} ms per image (mean), {d['p50_ms_per_image']:.1f} ms p50",
        f"detection recall by size: {size_recall_text(d['detection_recall_by_size'])} ({size_buckets_doc()})",
    ]
    conf = confidence_text(d)
    if conf:
        lines.append(conf)
    if d["skipped_images"]:
        lines.append(f"{len(d['skipped_images'])} undecodable image(s) skipped: {d['skipped_images'][0]} ...")
    if d["misses"]:
        shown = ", ".join(f"{m['file']} {m['expected']}->{m['read'] or '-'}" for m in d["misses"][:5])
        more = f" (+{len(d['misses']) - 5} more)" if len(d["misses"]) > 5 else ""
        causes = ", ".join(f"{n} {c}" for c, n in d["miss_causes"].items())
        lines.append(f"{len(d['misses'])} misses ({causes}): {shown}{more}")
    return lines


def write_json(result: EvalResult, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return path


def write_report(result: EvalResult, out_dir: str | Path) -> Path:
    """Writes `report.md`, `metrics.png`, `failures.png` (if any failure) and `results.json` in `out_dir`."""
    import matplotlib

    matplotlib.use("Agg")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    d = result.to_dict()
    write_json(result, out / "results.json")
    _metrics_chart(d, result.image_ms, out / "metrics.png")
    # worst first: reader errors (most wrong characters first), then detector misses, then label doubts
    order = {c: i for i, c in enumerate(MISS_CAUSES[1:2] + MISS_CAUSES[:1] + MISS_CAUSES[2:])}
    misses = sorted(
        result.misses,
        key=lambda o: (order[miss_cause(o.read, o.expected, o.detected)], -char_errors(o.read, o.expected)),
    )
    sheet = _failure_sheet(Path(result.dataset), misses, out / "failures.png") if misses else None
    (out / "report.md").write_text(_markdown(d, sheet))
    return out / "report.md"


def _markdown(d: dict[str, Any], sheet: Path | None) -> str:
    rows = [
        ("images", str(d["n"])),
        ("labelled plates", str(d["labels"])),
        ("exact match (end to end)", _pct(d["exact_match"])),
        ("exact match, O=0 and I=1", _pct(d["exact_match_confusable"])),
        ("character error rate", _pct(d["cer"])),
        ("plate detection recall @ IoU 0.5", _pct(d["detection_recall"])),
        ("plate detection precision @ IoU 0.5", _pct(d["detection_precision"])),
        *(
            (f"plate detection recall, {name} plates", f"{_pct(b['recall'])} ({b['detected']}/{b['labels']})")
            for name, b in d["detection_recall_by_size"].items()
        ),
        ("ms per image (mean / p50)", f"{d['ms_per_image']:.1f} / {d['p50_ms_per_image']:.1f}"),
    ]
    text = [
        f"# OVR-ALPR evaluation: `{d['dataset']}`",
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in rows),
        "",
        "Each labelled plate is scored against the read whose box matches it one-to-one at IoU >= 0.5 "
        "(most confident read first); an unmatched label takes the most confident unmatched read with text. "
        "Texts are compared upper-cased, alphanumerics only. CER = all edits / all label characters. "
        "Precision counts unlabelled plates that were found (some images show more plates than the one "
        "labelled) as false positives, so it is a lower bound. Recall by size: " + size_buckets_doc() + ".",
        "",
        "![metrics](metrics.png)",
        "",
        "## Reads by OCR confidence",
        "",
        "What a confidence threshold publishes, over the text-labelled plates: a wrong read costs more than "
        "no read, so `ocr.min_confidence` (a video track's read below it is not published"
        + (f"; configured: {d['min_confidence']:g}" if d.get("min_confidence") is not None else "")
        + ") trades plates read for plates read wrong.",
        "",
        "| confidence >= | plates published | share | right | wrong | right among published |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r['threshold']:g} | {r['published']} | {_pct(r['share'])} | {r['right']} | {r['wrong']} "
            f"| {_pct(r['precision'])} |"
            for r in d.get("reads_by_confidence", [])
        ),
        "",
        "## Stages (ms)",
        "",
        "| stage | p50 | p95 | mean | calls |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | {s['mean_ms']:.1f} | {s['count']} |"
            for name, s in d["stages"].items()
        ),
        "",
        f"## Misses ({len(d['misses'])})",
        "",
        "Causes: **detector** (no box at IoU >= 0.5), **reader** (box found, text wrong), **label doubt** "
        "(the read equals the label once O=0 and I=1: the glyphs are alike and the labels mix them).",
        "",
        "| cause | plates |",
        "|---|---|",
        *(f"| {c} | {n} |" for c, n in d["miss_causes"].items()),
        "",
    ]
    if d["char_confusions"]:
        text += [
            "Character errors of detected plates (label -> read; `-`: missing or extra character):",
            "",
            "| label | read | count |",
            "|---|---|---|",
            *(f"| `{c['label']}` | `{c['read']}` | {c['count']} |" for c in d["char_confusions"][:20]),
            "",
        ]
    if sheet is not None:
        text += [f"![failures]({sheet.name})", ""]
    if d["misses"]:
        text += ["| file | expected | read | box found (IoU >= 0.5) | cause |", "|---|---|---|---|---|"]
        text += [
            f"| {m['file']} | `{m['expected']}` | `{m['read'] or '-'}` | {'yes' if m['detected'] else 'no'} "
            f"| {m['cause']} |"
            for m in d["misses"]
        ]
    else:
        text.append("None.")
    return "\n".join(text) + "\n"


def _metrics_chart(d: dict[str, Any], image_ms: list[float], path: Path) -> None:
    import matplotlib.pyplot as plt

    names = ["exact match", "1 - CER", "det. recall", "det. precision"]
    cer = d["cer"]
    values = [
        d["exact_match"],
        None if cer is None else max(0.0, 1 - cer),
        d["detection_recall"],
        d["detection_precision"],
    ]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    shown = [(n, v) for n, v in zip(names, values, strict=True) if v is not None]
    bars = ax1.bar([n for n, _ in shown], [100 * v for _, v in shown], color="#3a7bd5")
    ax1.bar_label(bars, fmt="%.1f")
    ax1.set_ylim(0, 105)
    ax1.set_ylabel("%")
    ax1.set_title(f"accuracy, {d['n']} images")
    ax2.hist(image_ms, bins=min(30, max(5, len(image_ms) // 3)), color="#888")
    ax2.axvline(d["ms_per_image"], color="#d53a3a", label=f"mean {d['ms_per_image']:.0f} ms")
    ax2.set_xlabel("ms per image")
    ax2.set_title("latency")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _failure_crop(root: Path, miss: PlateOutcome) -> np.ndarray:
    """The labelled plate with some context around it, RGB; a grey tile when the image cannot be read."""
    image = cv2.imread(str(root / miss.file)) if root.is_dir() else None
    if image is None:
        return np.full((60, 180, 3), 200, np.uint8)
    h, w = image.shape[:2]
    x1, y1, x2, y2 = miss.label_xyxy
    mx, my = 0.3 * (x2 - x1), 0.6 * (y2 - y1)
    cx1, cy1 = int(max(0, x1 - mx)), int(max(0, y1 - my))
    cx2, cy2 = int(min(w, x2 + mx)), int(min(h, y2 + my))
    crop = image[cy1 : max(cy2, cy1 + 2), cx1 : max(cx2, cx1 + 2)]
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)


def _failure_sheet(root: Path, misses: list[PlateOutcome], path: Path) -> Path:
    import matplotlib.pyplot as plt

    shown = misses[:MAX_SHEET_FAILURES]
    cols = min(_SHEET_COLUMNS, len(shown))
    rows = -(-len(shown) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.0 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, miss in zip(axes.flat, shown, strict=False):
        ax.imshow(_failure_crop(root, miss))
        name = Path(miss.file).name
        name = name if len(name) <= 30 else name[:13] + "..." + name[-14:]
        ax.set_title(
            f"{name} ({miss_cause(miss.read, miss.expected, miss.detected)})\n"
            f"exp {miss.expected}  read {miss.read or '-'}",
            fontsize=8,
            family="monospace",
        )
    if len(misses) > len(shown):
        fig.suptitle(f"first {len(shown)} of {len(misses)} failures", fontsize=9)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / rows))
    else:
        fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
