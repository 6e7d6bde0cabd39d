"""`ovr-alpr train average`: one reader from the weight average of runs fine-tuned from one start.

Fine-tunes of the same weights stay in one basin of the loss, so the mean of their weights reads about as
well as an ensemble of them at the cost of one network (Wortsman et al., "Model soups", ICML 2022). Runs
that do not share a start average to noise; that is caught on the real crops no run trained on and on
freshly rendered plates, and refused.

Besides run folders, a reader's ONNX (e.g. the shipped `assets/plate_reader.onnx`, which fine-tunes
started from with `--init-weights`) can be averaged in: its network is rebuilt by `reader.weights_from_onnx`,
its batch norms calibrated on `UNFOLD_PLATES` plates rendered with `UNFOLD_SEED`. It brings no manifest: the
average's manifest is its run folders' (the model's own training record stays where it was shipped).
"""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path

from ..errors import ConfigError
from ..synth.platekit import Style
from .manifest import Entry, read_manifest, write_manifest

#: Options that make two runs' networks the same shape.
NETWORK_OPTIONS = ("head", "height", "width", "width_mult", "context", "slots")

#: The average must read at least this share of what its weakest run reads on the held-out crops.
MIN_SHARE_OF_WEAKEST = 0.5
#: Plates rendered for the check, and their seed (training runs render with their own small seeds).
RENDERED_CHECK = 300
CHECK_SEED = 90210
#: Plates rendered to calibrate the batch norms of an ONNX reader averaged in, and their seed.
UNFOLD_PLATES = 256
UNFOLD_SEED = 4242


def _checkpoint(run: Path) -> dict:
    import torch

    path = run / "checkpoint.pt"
    if not path.is_file():
        raise ConfigError(f"{path} does not exist", "give run folders written by `ovr-alpr train reader`")
    ckpt = torch.load(path, weights_only=False, map_location="cpu")
    if not isinstance(ckpt, dict) or "ema" not in ckpt or "options" not in ckpt:
        raise ConfigError(f"{path} is not a reader run's checkpoint", "give `ovr-alpr train reader` runs")
    return ckpt


def _option(options: dict, key: str) -> str:
    """A run's option as its checkpoint saved it (a string); a run from before the option existed did not
    save it and ran with the option's default."""
    from .reader import TrainOptions

    return options.get(key, str(next(f.default for f in fields(TrainOptions) if f.name == key)))


def _union_manifest(runs: list[Path]) -> tuple[list[Entry], list[Entry]]:
    """Every crop any run saw (train where any run trained on it), and the crops every run held out."""
    splits: dict[tuple, list[Entry]] = {}
    for run in runs:
        path = run / "manifest.jsonl"
        if not path.is_file():
            raise ConfigError(f"{path} does not exist", "average only runs that kept their manifest")
        for e in read_manifest(path):
            splits.setdefault((e.path, e.box, e.label), []).append(e)
    union, held_out = [], []
    for entries in splits.values():
        trained = any(e.split == "train" for e in entries)
        union.append(replace(entries[0], split="train" if trained else "dev"))
        if not trained and len(entries) == len(runs):
            held_out.append(union[-1])
    return union, held_out


def average_runs(runs: list[Path], out_dir: Path, command: str) -> dict:
    """Average the moving-average weights of `runs`; write `reader.onnx`, `manifest.jsonl` (the union of
    theirs), `synth-labels.txt`, `metrics.json` and `MODEL_CARD.md` into `out_dir`."""
    import numpy as np
    import torch

    from .card import write_average_card
    from .data import render_synthetic
    from .reader import (
        TrainOptions,
        _dev_sets,
        build_model,
        ema_weights,
        exact_match,
        export_onnx,
        weights_from_onnx,
    )

    if len(runs) < 2:
        raise ConfigError("averaging needs at least two runs", "give two or more run folders")
    models = [run for run in runs if run.suffix == ".onnx"]
    runs = [run for run in runs if run.suffix != ".onnx"]
    if not runs:
        raise ConfigError("no run folder among the inputs", "give at least one `ovr-alpr train reader` run")
    ckpts = [_checkpoint(run) for run in runs]
    options = [c["options"] for c in ckpts]
    for run, opts in zip(runs[1:], options[1:], strict=True):
        differs = [k for k in NETWORK_OPTIONS if _option(opts, k) != _option(options[0], k)]
        if differs:
            raise ConfigError(
                f"{run} has another network than {runs[0]} ({', '.join(differs)} differ)",
                "average runs of one network, fine-tuned from the same weights",
            )
    states = [ema_weights(c) for c in ckpts]
    first = options[0]
    opts = TrainOptions(
        out_dir=out_dir,
        head=first["head"],
        height=int(first["height"]),
        width=int(first["width"]),
        width_mult=float(first["width_mult"]),
        context=int(_option(first, "context")),
        slots=int(first["slots"]),
        command=command,
    )
    if models:
        calib, _ = render_synthetic(UNFOLD_PLATES, UNFOLD_SEED, opts.width, opts.height, None, set(), 1)
        for path in models:
            if not path.is_file():
                raise ConfigError(f"{path} does not exist", "give a reader's .onnx or a run folder")
            try:
                states.append(weights_from_onnx(path, build_model(opts), calib))
            except ValueError as exc:
                raise ConfigError(str(exc), "average readers of one network") from None
    mean = {
        k: torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype) if v.is_floating_point() else v
        for k, v in states[0].items()
    }

    def network(state: dict):
        model = build_model(opts)
        model.load_state_dict(state)
        return model.eval()

    averaged = network(mean)
    run_models = {str(run): network(state) for run, state in zip([*runs, *models], states, strict=True)}

    def compare(images, labels: list[str], what: str) -> dict[str, float]:
        """Exact match of the average and of each run; refused when the average reads far worse."""
        if not labels:
            return {}
        scores = {"average": exact_match(averaged, images, labels)}
        scores |= {run: exact_match(model, images, labels) for run, model in run_models.items()}
        weakest = min(v for k, v in scores.items() if k != "average")
        if scores["average"] < MIN_SHARE_OF_WEAKEST * weakest:
            raise ConfigError(
                f"the average reads {scores['average']:.0%} of {len(labels)} {what}, its weakest run "
                f"{weakest:.0%}: the runs do not share a start",
                "average fine-tunes of one run (`--init-weights` of the same checkpoint lineage)",
            )
        return scores

    # a reader's .onnx made by `train reader` or `train average` keeps its manifest beside it: what it saw
    # counts as the average's data too (the shipped assets keep theirs in tests/data)
    lineage = [*runs, *(m.parent for m in models if (m.parent / "manifest.jsonl").is_file())]
    entries, held_out = _union_manifest(list(dict.fromkeys(lineage)))
    dev = _dev_sets(held_out, opts)
    real_labels = [lab for _, labs in dev.values() for lab in labs]
    real = compare(
        np.concatenate([img for img, _ in dev.values()]) if dev else None,
        real_labels,
        "real crops no run trained on",
    )
    # runs with other seeds held out other crops, so few or none may be held out of all: plates rendered
    # afresh (a seed no run rendered with) are a check that is always there
    images, labels = render_synthetic(
        RENDERED_CHECK, CHECK_SEED, opts.width, opts.height, None, set(), 1, Style.of(first)
    )
    rendered = compare(images, labels, "freshly rendered plates")
    out_dir.mkdir(parents=True, exist_ok=True)
    export_onnx(averaged, out_dir / "reader.onnx", opts)
    write_manifest(entries, out_dir / "manifest.jsonl")
    synth = sorted({t for run in runs for t in _synth_texts(run)})
    (out_dir / "synth-labels.txt").write_text("".join(t + "\n" for t in synth))
    metrics = {
        "runs": [
            {"run": str(run), "command": o.get("command"), "steps": c.get("step"), "seed": o.get("seed")}
            for run, o, c in zip(runs, options, ckpts, strict=True)
        ]
        + [{"run": str(m), "command": "(an ONNX reader)", "steps": None, "seed": None} for m in models],
        "held_out_crops": len(real_labels),
        "held_out_exact": real,
        "rendered_plates": len(labels),
        "rendered_exact": rendered,
        "params": sum(p.numel() for p in averaged.parameters()),
        "command": command,
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    write_average_card(opts, metrics, runs, out_dir / "MODEL_CARD.md")
    return metrics


def _synth_texts(run: Path) -> list[str]:
    path = run / "synth-labels.txt"
    return path.read_text().split() if path.is_file() else []
