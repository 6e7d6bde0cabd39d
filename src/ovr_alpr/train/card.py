"""The model card written beside a trained reader: data with licences and counts, rules, metrics, command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..synth.platekit import Style


def write_card(opts: Any, metrics: dict, path: Path) -> None:
    data = metrics.get("data", {})
    lines = [
        f"# OVR-ALPR plate reader ({_HEADS.get(str(opts.head), str(opts.head))})",
        "",
        "Trained by `ovr-alpr train reader` (OVR-ALPR). Licence of the weights: AGPL-3.0-or-later "
        "(trained in part on AGPL-3.0 data; see Data).",
        "",
        "## Model",
        f"- Input: uint8 NHWC RGB [N, {opts.height}, {opts.width}, 3], the plate crop resized plainly "
        "(no aspect keeping); scaling to 0..1 is inside the graph.",
        *_network_lines(opts, metrics),
        "- The plate config is stored in the ONNX metadata (`plate_config`, fast-plate-ocr keys).",
        "",
        "## Data",
        "| source | licence | train | dev |",
        "|---|---|---|---|",
    ]
    for source, d in sorted(data.get("by_source", {}).items()):
        lines.append(f"| `{source}` | {d.get('licence', '')} | {d.get('train', 0)} | {d.get('dev', 0)} |")
    lines.append(
        f"| rendered plates (`ovr_alpr.synth.platekit`) | AGPL-3.0-or-later (own) | "
        f"{data.get('synthetic', 0)} | 0 |"
    )
    style = Style.of(opts)
    lines.append(
        f"\nRendered plates: {style.describe()} (`--us-round-glyph {style.us_round_glyph}`"
        f"{'' if style.us_mixed_series else ', `--no-us-mixed-series`'})."
    )
    teacher = data.get("teacher", {})
    if teacher:
        lines += [
            "",
            "Teacher labels: fast-plate-ocr `cct_xs_v1_global.onnx` (MIT) read the unlabelled crops "
            "(`ocr-unlabelled/`) and plate boxes cut from `detect/`; a read was kept when "
            f"{data.get('teacher_rule')}. "
            "Kept / candidates: "
            + ", ".join(
                f"{s}: {teacher.get(s + '_kept', 0)} / {teacher.get(s + '_candidates', 0)}"
                for s in sorted({k.rsplit("_", 1)[0] for k in teacher})
            )
            + ".",
        ]
    lines += [
        "",
        f"Evaluation sets excluded: {data.get('eval_texts', 0)} plate texts and {data.get('eval_hashes', 0)} "
        "perceptual hashes of `../shared/data/openalpr` images and plate crops; "
        f"{data.get('dropped_eval_leaks', 0)} real crops dropped (same text, or phash distance <= 6); "
        "rendered texts equal to an evaluation text are drawn again "
        f"({data.get('synthetic_eval_text_collisions', 0)} left).",
        "",
        "## Training",
        f"- Steps {metrics.get('steps')} x batch {opts.batch} "
        f"({opts.real_fraction:.0%} augmented real crops, "
        f"the rest rendered plates), AdamW lr {opts.lr} wd {opts.weight_decay}, {opts.warmup_steps} warm-up "
        f"steps then cosine decay, label smoothing "
        f"{opts.label_smoothing}, EMA 0.998 (exported), seed {opts.seed}.",
        *(
            [f"- Fine-tuned from `{Path(str(opts.init_weights)).name}` (crop jitter x{opts.geometry})."]
            if getattr(opts, "init_weights", None)
            else []
        ),
        *(
            [
                f"- {opts.camera:.0%} of the crops were made to look as a far camera cuts them (looser box, "
                "plate 18-40 px high, focus or motion blur, hard JPEG, scaled up): `--camera`."
            ]
            if getattr(opts, "camera", 0.0)
            else []
        ),
        *(
            [
                f"- {opts.motion_blur:.0%} of the crops were smeared as a moving plate is over the exposure "
                "(a streak of 2-8 % of the crop's width, mostly sideways): `--motion-blur`."
            ]
            if getattr(opts, "motion_blur", 0.0)
            else []
        ),
        f"- Wall time {metrics.get('minutes')} min on {_where(opts)} "
        f"({metrics.get('samples_per_s')} samples/s).",
        *(
            [
                f"- `--steps 0`: {metrics.get('steps')} steps were planned to fit --max-minutes; pass "
                f"`--steps {metrics.get('steps')}` to repeat the run step for step."
            ]
            if str(opts.steps) == "0"
            else []
        ),
        "",
        "```",
        opts.command,
        "```",
        "",
        "## Metrics",
        f"Dev exact match (held-out {opts.dev_fraction:.0%} of real crops, by plate text), at the end: "
        + ", ".join(f"{k} {v:.1%}" for k, v in (metrics.get("history") or [{}])[-1].get("dev", {}).items()),
        "",
    ]
    path.write_text("\n".join(lines) + "\n")


def _where(opts: Any) -> str:
    device = str(getattr(opts, "device", "cpu"))
    if device.startswith("cuda"):
        import torch

        name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CUDA"
        return f"{name}{_autocast(opts, 'bf16')}, {_batch_processes(opts)}"
    return f"{opts.threads} CPU threads{_autocast(opts, 'fp32')}, {_batch_processes(opts)}"


def _autocast(opts: Any, before: str) -> str:
    """' (bf16 autocast)' when the run's forward pass ran in bf16 (`before`: what a run made before
    `--autocast` existed used on this device)."""
    return " (bf16 autocast)" if str(getattr(opts, "autocast", before)) == "bf16" else ""


def _batch_processes(opts: Any) -> str:
    n = int(getattr(opts, "loader_workers", 0))
    return f"{n} batch process{'' if n == 1 else 'es'}"


_HEADS = {"ctc": "CNN + CTC", "fc": "fixed-slot CNN", "attention": "fixed-slot CNN with slot attention"}


def _network_lines(opts: Any, metrics: dict) -> list[str]:
    params = f"{metrics.get('params', 0):,} parameters"
    if str(opts.head) == "ctc":
        from .model import CONTEXT_DILATIONS

        context = int(getattr(opts, "context", 0))
        rows = (
            f", then {context} residual 1x3 convolutions along each row (dilations "
            f"{', '.join(str(d) for d in CONTEXT_DILATIONS[:context])}: each position sees most of its line)"
            if context
            else ""
        )
        return [
            "- Output: softmax probabilities [N, 64, 37]: 2 rows x 32 columns of CTC time steps in reading "
            "order over `0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_` (`_` = blank); greedy decoding collapses "
            "repeats and drops blanks.",
            f"- Network: 7 conv-BN-ReLU blocks down to a 2 x 32 map (each position sees the whole plate "
            f"height){rows}, 1x1 classifier; {params}. A one-line plate is emitted along one row, a two-line "
            "plate's top line along the top row and its bottom line along the bottom row: read in one pass.",
        ]
    head = (
        "features at stride 16 flattened, one linear layer to all slots"
        if str(opts.head) == "fc"
        else "one learned query per slot attending over the stride-8 map (4 heads), MLP, shared classifier"
    )
    return [
        f"- Output: softmax probabilities [N, {opts.slots}, 37]: {opts.slots} character slots over "
        "`0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_` (`_` = empty slot).",
        f"- Network: conv-BN-ReLU blocks, {head}; {params}. Two-line plates are read in one pass.",
    ]


def write_average_card(opts: Any, metrics: dict, runs: list[Path], path: Path) -> None:
    """The card of a weight average (`ovr-alpr train average`): what was averaged, how it reads the crops
    no run trained on, and each run's own card below."""
    lines = [
        f"# OVR-ALPR plate reader ({_HEADS.get(str(opts.head), str(opts.head))}), weight average",
        "",
        "Made by `ovr-alpr train average` (OVR-ALPR): the mean of the moving-average weights of "
        f"{len(runs)} runs of `ovr-alpr train reader` fine-tuned from the same weights. Licence of the "
        "weights: AGPL-3.0-or-later, as its runs'; its data are theirs (below).",
        "",
        "## Model",
        f"- Input: uint8 NHWC RGB [N, {opts.height}, {opts.width}, 3], the plate crop resized plainly "
        "(no aspect keeping); scaling to 0..1 is inside the graph.",
        *_network_lines(opts, metrics),
        "",
        "## Runs averaged",
        "| run | steps | seed | command |",
        "|---|---|---|---|",
        *(f"| `{r['run']}` | {r['steps']} | {r['seed']} | `{r['command']}` |" for r in metrics["runs"]),
        "",
        "```",
        str(opts.command),
        "```",
        "",
        "## Metrics",
        _scores_line(
            metrics.get("held_out_exact", {}),
            f"{metrics.get('held_out_crops')} real crops that every run held out",
            "No real crop was held out of every run.",
        ),
        "",
        _scores_line(
            metrics.get("rendered_exact", {}),
            f"{metrics.get('rendered_plates')} plates rendered afresh (a seed no run rendered with)",
            "No plate was rendered for the check.",
        ),
        "",
    ]
    for run in runs:
        card = run / "MODEL_CARD.md"
        if card.is_file():
            body = card.read_text().splitlines()
            lines += [f"## Run `{run}`", *("#" + ln if ln.startswith("#") else ln for ln in body[1:]), ""]
    path.write_text("\n".join(lines) + "\n")


def _scores_line(scores: dict[str, float], what: str, none: str) -> str:
    if not scores:
        return none
    return f"Exact match on the {what}: " + ", ".join(
        f"{'average' if k == 'average' else f'`{k}`'} {v:.1%}" for k, v in scores.items()
    )
