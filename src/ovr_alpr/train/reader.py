"""`ovr-alpr train reader`: data, training loop (seeded, checkpointed, resumable), ONNX export, model card."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..synth.platekit import Style
from .data import ALPHABET, PAD, BatchMaker, RealSet, decode, render_synthetic, to_input
from .malloc import keep_freed_memory
from .manifest import (
    Entry,
    EvalGuard,
    assign_dev,
    drop_leaks,
    labelled_entries,
    read_manifest,
    teacher_label,
    unlabelled_candidates,
    write_manifest,
)

log = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    """Everything one training run depends on (saved in the checkpoint and the model card)."""

    out_dir: Path = Path("out/reader")
    ocr_dir: Path | None = None
    unlabelled_dir: Path | None = None
    detect_dir: Path | None = None
    teacher: Path | None = None
    eval_dir: Path | None = None
    synthetic: int = 40000
    steps: int = 4000
    batch: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.02
    label_smoothing: float = 0.05
    real_fraction: float = 0.5
    dev_fraction: float = 0.05
    min_teacher_p: float = 0.9
    slots: int = 10
    height: int = 64
    width: int = 128
    width_mult: float = 1.0
    context: int = 0
    head: str = "fc"
    seed: int = 0
    eval_every: int = 250
    max_minutes: float = 0.0
    stop_at: int = 0
    export_only: bool = False
    export_weights: str = "ema"
    threads: int = 2
    workers: int = 2
    loader_workers: int = 0
    device: str = "cpu"
    autocast: str = "auto"
    warmup_steps: int = 300
    geometry: float = 1.0
    camera: float = 0.0
    motion_blur: float = 0.0
    us_round_glyph: str = "zero"
    us_mixed_series: bool = True
    init_weights: Path | None = None
    resume: bool = False
    command: str = field(default_factory=lambda: command_line())


def command_line() -> str:
    """The `ovr-alpr ...` command this process was started with, quoted for a shell (for the model card)."""
    return " ".join(["ovr-alpr", *(shlex.quote(a) for a in sys.argv[1:])])


def render_style(opts: TrainOptions) -> Style:
    """The renderer's choices for this run's rendered plates (`--us-round-glyph`, `--us-mixed-series`)."""
    try:
        return Style.of(opts)
    except ValueError as exc:
        raise ConfigError(str(exc), "pass --us-round-glyph zero or --us-round-glyph printed") from exc


def _style_tag(style: Style) -> str:
    """Cache-file suffix of a renderer style other than the default (default: "", the old file name)."""
    if style == Style():
        return ""
    return f"-us{style.us_round_glyph}{'' if style.us_mixed_series else '-nomixed'}"


def _seed_all(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_manifest(opts: TrainOptions) -> tuple[list[Entry], dict]:
    """Real training/dev entries (labelled + teacher-labelled, evaluation leaks dropped) and counts."""
    out = opts.out_dir / "manifest.jsonl"
    stats_path = opts.out_dir / "manifest-stats.json"
    if out.is_file() and stats_path.is_file():
        return read_manifest(out), json.loads(stats_path.read_text())
    guard = EvalGuard(opts.eval_dir)
    stats: dict = {"eval_texts": len(guard.texts), "eval_hashes": len(guard.hashes)}
    entries: list[Entry] = []
    if opts.ocr_dir:
        labelled = labelled_entries(opts.ocr_dir)
        stats["labelled"] = len(labelled)
        entries += labelled
    if opts.teacher and (opts.unlabelled_dir or opts.detect_dir):
        candidates = unlabelled_candidates(opts.unlabelled_dir, opts.detect_dir)
        kept, counts = teacher_label(candidates, opts.teacher, opts.min_teacher_p)
        stats["teacher"] = counts
        stats["teacher_rule"] = (
            f"every slot's probability >= {opts.min_teacher_p}, no empty slot inside the text, "
            "4-9 characters, at least one letter and one digit"
        )
        entries += kept
    entries, dropped = drop_leaks(entries, guard)
    stats["dropped_eval_leaks"] = dropped
    assign_dev(entries, opts.dev_fraction, opts.seed)
    stats["by_source"] = {}
    for e in entries:
        d = stats["by_source"].setdefault(e.source, {"train": 0, "dev": 0, "licence": e.licence})
        d[e.split] += 1
    write_manifest(entries, out)
    stats_path.write_text(json.dumps(stats, indent=2))
    return entries, stats


def build_model(opts: TrainOptions):
    from .model import CtcReader, SlotReader

    if opts.head == "ctc":
        return CtcReader(len(ALPHABET), opts.height, opts.width, opts.width_mult, opts.context)
    return SlotReader(opts.slots, len(ALPHABET), opts.height, opts.width, opts.width_mult, head=opts.head)


def batch_stream(batches: BatchMaker, opts: TrainOptions, first_step: int):
    """Endless (images, targets) tensor pairs: made in this process, or by `opts.loader_workers` processes.

    Worker `w` draws from its own generator seeded by (seed, w, first step); the loader hands out the
    workers' batches in turn, so a run is the same for the same seed and worker count.
    """
    import cv2
    import torch

    if opts.loader_workers <= 0:
        while True:
            images, targets = batches(opts.batch)
            yield torch.from_numpy(images), torch.from_numpy(targets)

    class Batches(torch.utils.data.IterableDataset):
        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            batches.rng = np.random.default_rng([opts.seed, info.id if info else 0, first_step])
            while True:
                images, targets = batches(opts.batch)
                yield torch.from_numpy(images), torch.from_numpy(targets)

    # OpenCV's thread pool does not survive fork (a child calling into it hangs): serial OpenCV from here
    cv2.setNumThreads(0)
    loader = torch.utils.data.DataLoader(
        Batches(),
        batch_size=None,
        num_workers=opts.loader_workers,
        pin_memory=opts.device.startswith("cuda"),
        prefetch_factor=4,
        multiprocessing_context="fork",
    )
    yield from loader


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up over `warmup` steps, then cosine decay to 1 % at `total`."""
    if step < warmup:
        return 0.05 + 0.95 * step / max(warmup, 1)
    t = min(1.0, (step - warmup) / max(total - warmup, 1))
    return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * t))


def autocast_dtype(choice: str, device: str) -> str:
    """The precision the forward pass runs in: `bf16` or `fp32`.

    `auto`: bf16 on CUDA, and on a CPU whose oneDNN has bf16 kernels (AVX512-BF16 or AMX: about twice the
    steps per second of fp32 for this network on a 2-core Zen 4), else fp32. `bf16` on a CPU without such
    kernels is refused: it would run emulated, slower than fp32.
    """
    import torch

    if choice not in ("auto", "bf16", "fp32"):
        raise ConfigError(f"--autocast {choice!r} is not a choice", "use auto, bf16 or fp32")
    if choice == "fp32":
        return "fp32"
    if device.startswith("cuda"):
        return "bf16"
    fast = bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    if choice == "bf16" and not fast:
        raise ConfigError(
            "--autocast bf16: this CPU has no bf16 kernels (AVX512-BF16 or AMX)", "use --autocast fp32"
        )
    return "bf16" if fast else "fp32"


def planned_steps(done: int, steps_per_s: float, seconds_left: float) -> int:
    """Total steps: the `done` ones and those that fit `seconds_left` at `steps_per_s` (5 % spare)."""
    return max(done + 1, int(done + steps_per_s * max(seconds_left, 0.0) * 0.95))


class StepPlan:
    """How many steps the run takes: `--steps`, or with `--steps 0` as many as fit `--max-minutes`, planned
    at the end of the warm-up from the speed of its second half (after loaders and caches have started).
    `total` feeds the learning-rate schedule; the plan is part of a checkpoint."""

    def __init__(self, opts: TrainOptions, start_step: int, t_start: float) -> None:
        self.total = opts.steps or 10**9
        self.planned = bool(opts.steps)
        self.warmup, self.start_step, self.t_start = opts.warmup_steps, start_step, t_start
        self.budget_s = opts.max_minutes * 60 - 45  # leaves time for the last evaluation and the export
        self._half_way = time.time()

    def after(self, step: int) -> bool:
        """Call after each step; True when the plan was made at this step."""
        if self.planned:
            return False
        done = step - self.start_step
        if done == self.warmup // 2:
            self._half_way = time.time()
        if done < self.warmup:
            return False
        now = time.time()
        rate = (self.warmup - self.warmup // 2) / max(now - self._half_way, 1e-9)
        self.total = planned_steps(step, rate, self.budget_s - (now - self.t_start))
        self.planned = True
        return True

    def state(self) -> dict:
        return {"total": self.total, "planned": self.planned}

    def load(self, state: dict) -> None:
        self.total, self.planned = state.get("total", self.total), state.get("planned", self.planned)


def load_weights(path: Path) -> dict:
    """A network's state dict from `path`: a plain state dict (`best.pt`), or a run's `checkpoint.pt` (its
    moving-average weights)."""
    import torch

    data = torch.load(path, weights_only=False, map_location="cpu")
    if isinstance(data, dict) and "ema" in data:
        return ema_weights(data)
    return data


def weights_from_onnx(path: Path, model, images: np.ndarray) -> dict:
    """The state dict of `model` (a `CtcReader`) that computes what the ONNX reader at `path` computes.

    A shipped reader keeps no checkpoint: its ONNX graph has each batch norm folded into the convolution
    before it. `train.unfold` puts the folded weights back and calibrates the batch norms on `images` (uint8
    [N, H, W, 3], e.g. one training batch), so fine-tuning a shipped model needs only the model file. Raises
    ValueError when the graph does not fit the network (other architecture or width) or the rebuilt network
    does not reproduce the ONNX output.
    """
    import onnx
    import onnxruntime as ort
    import torch

    from .unfold import calibrate, set_folded

    proto = onnx.load(str(path))
    init = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    layers = model.conv_layers()
    if len(convs) != len(layers) + 1:
        raise ValueError(
            f"{path}: {len(convs)} convolutions, the network has {len(layers) + 1}; "
            "pass --head ctc and the --width-mult and --context the model was trained with"
        )
    try:
        folded = [
            tuple(torch.from_numpy(init[name].astype(np.float32)) for name in node.input[1:3])
            for node in convs
        ]
    except KeyError as exc:
        raise ValueError(f"{path}: not a reader exported by `ovr-alpr train reader` ({exc})") from None
    targets = [layer[0].weight for layer in layers] + [model.classifier.weight]
    for i, ((w, _b), target) in enumerate(zip(folded, targets, strict=True)):
        if target.shape != w.shape:
            raise ValueError(
                f"{path}: layer {i} is {tuple(w.shape)}, the network's {tuple(target.shape)}; "
                "pass the --width-mult the model was trained with"
            )
    pairs = [(layer[0], layer[1]) for layer in layers]
    for (conv, bn), (w, b) in zip(pairs, folded, strict=False):
        set_folded(conv, bn, w, b)
    with torch.no_grad():
        model.classifier.weight.copy_(folded[-1][0])
        model.classifier.bias.copy_(folded[-1][1])
    x = torch.from_numpy(np.ascontiguousarray(images))
    calibrate(model, pairs, lambda: model(x))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: images[:16]})[0]
    with torch.no_grad():
        want = model(x[:16]).numpy()
    diff = float(np.abs(got - want).max())
    if diff > 1e-3:
        raise ValueError(f"{path}: the rebuilt network differs from the ONNX model by {diff:.2g}")
    return {k: v.clone() for k, v in model.state_dict().items()}


def ema_weights(checkpoint: dict) -> dict:
    """The network's state dict of a run's checkpoint: its moving-average weights."""
    return {k.removeprefix("module."): v for k, v in checkpoint["ema"].items() if k != "n_averaged"}


def ctc_decode(indices: np.ndarray) -> str:
    """Greedy CTC: collapse repeats, drop blanks (the pad class)."""
    out, prev = [], -1
    for i in indices:
        if i != prev and ALPHABET[i] != PAD:
            out.append(ALPHABET[i])
        prev = i
    return "".join(out)


def exact_match(model, images: np.ndarray, labels: list[str], batch: int = 256) -> float:
    import torch

    if not labels:
        return float("nan")
    model.eval()
    right = 0
    device = next(model.parameters()).device
    with torch.no_grad():
        for s in range(0, len(labels), batch):
            probs = model(torch.from_numpy(images[s : s + batch]).to(device))
            read = ctc_decode if getattr(model, "is_ctc", False) else decode
            for p, label in zip(probs.argmax(-1).cpu().numpy(), labels[s : s + batch], strict=True):
                right += read(p) == label
    model.train()
    return right / len(labels)


def _dev_sets(entries: list[Entry], opts: TrainOptions) -> dict[str, tuple[np.ndarray, list[str]]]:
    from .manifest import load_entry_image

    groups: dict[str, list[Entry]] = {}
    for e in entries:
        if e.split == "dev":
            key = "eu" if e.source in ("td_eu", "td_eu2") else e.source
            groups.setdefault(key, []).append(e)
    out = {}
    for key, es in sorted(groups.items()):
        imgs, labels = [], []
        for e in es:
            img = load_entry_image(e)
            if img is not None and img.size and len(e.label) <= opts.slots:
                imgs.append(to_input(img, opts.width, opts.height))
                labels.append(e.label)
        if imgs:
            out[key] = (np.stack(imgs), labels)
    return out


def train(opts: TrainOptions) -> dict:
    """Runs (or resumes) one training run; writes `reader.onnx`, `MODEL_CARD.md` and `metrics.json`."""
    import torch
    from tqdm import tqdm

    style = render_style(opts)  # a wrong renderer choice fails here, before anything is read or written
    if opts.context and opts.head != "ctc":
        raise ConfigError(f"--context {opts.context} needs --head ctc, not {opts.head}", "pass --head ctc")
    torch.set_num_threads(opts.threads)
    keep_freed_memory()  # before the loader forks: its processes inherit it
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    _seed_all(opts.seed)
    t_start = time.time()
    entries, stats = build_manifest(opts)
    guard_texts = EvalGuard(opts.eval_dir).texts if opts.eval_dir else set()
    synth_images, synth_labels = (
        render_synthetic(
            opts.synthetic,
            opts.seed,
            opts.width,
            opts.height,
            opts.out_dir / f"synth-{opts.synthetic}{_style_tag(style)}.npz",
            guard_texts,
            opts.workers,
            style,
        )
        if opts.synthetic
        else (np.empty((0, opts.height, opts.width, 3), np.uint8), [])
    )
    stats["synthetic"] = len(synth_labels)
    stats["synthetic_eval_text_collisions"] = sum(t in guard_texts for t in synth_labels)
    (opts.out_dir / "synth-labels.txt").write_text("\n".join(synth_labels) + "\n")
    real = RealSet.load([e for e in entries if e.split == "train"], opts.slots)
    dev = _dev_sets(entries, opts)
    stats["real_train_loaded"] = len(real.labels)
    log.info(
        "data: %d real train crops, %d synthetic, dev %s",
        len(real.labels),
        len(synth_labels),
        {k: len(v[1]) for k, v in dev.items()},
    )

    def batch_maker(seed: int) -> BatchMaker:
        return BatchMaker(
            real,
            synth_images,
            synth_labels,
            opts.slots,
            opts.width,
            opts.height,
            seed,
            opts.real_fraction,
            opts.geometry,
            opts.camera,
            opts.motion_blur,
        )

    batches = batch_maker(opts.seed)

    device = torch.device(opts.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model = build_model(opts)
    if opts.init_weights and not opts.resume:
        if opts.init_weights.suffix == ".onnx":  # a shipped model: rebuild the network from its graph
            sample = batch_maker(opts.seed + 1)(256)[0]  # its own generator: training batches unchanged
            try:
                model.load_state_dict(weights_from_onnx(opts.init_weights, model, sample))
            except ValueError as exc:
                raise ConfigError(
                    f"--init-weights {exc}", "give a reader exported by `ovr-alpr train reader`"
                ) from None
        else:
            model.load_state_dict(load_weights(opts.init_weights))
        log.info("starting from the weights of %s", opts.init_weights)
    model = model.to(device)
    ema = torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.998)
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    plan = StepPlan(opts, 0, t_start)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda i: lr_factor(i, plan.total, opts.warmup_steps)
    )
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=opts.label_smoothing)
    ctc_loss = torch.nn.CTCLoss(blank=ALPHABET.index(PAD), zero_infinity=True)
    opts.autocast = autocast_dtype(opts.autocast, opts.device)  # the card says what ran
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if opts.autocast == "bf16"
        else contextlib.nullcontext()
    )
    ckpt_path = opts.out_dir / "checkpoint.pt"
    step, history, best = 0, [], {"score": -1.0, "step": 0}
    if opts.export_only and not ckpt_path.is_file():
        raise FileNotFoundError(f"--export-only needs {ckpt_path}")
    if (opts.resume or opts.export_only) and ckpt_path.is_file():
        ckpt = torch.load(ckpt_path, weights_only=False, map_location=device)
        if opts.export_only:
            opts.steps = int(ckpt["options"]["steps"])
        if int(ckpt["options"]["steps"]) != opts.steps:
            raise ValueError(
                f"{ckpt_path} belongs to a {ckpt['options']['steps']}-step run; resume it with --steps "
                f"{ckpt['options']['steps']} (the learning-rate schedule depends on it)"
            )
        model.load_state_dict(ckpt["model"])
        ema.load_state_dict(ckpt["ema"])
        optimizer.load_state_dict(ckpt["optimizer"])
        plan.load(ckpt.get("plan", {}))
        scheduler.load_state_dict(ckpt["scheduler"])
        batches.rng.bit_generator.state = ckpt["data_rng"]
        torch.set_rng_state(ckpt["torch_rng"])
        step, history, best = ckpt["step"], ckpt["history"], ckpt["best"]
        log.info("resumed at step %d", step)

    def save() -> None:
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save(
            {
                "model": model.state_dict(),
                "ema": ema.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "plan": plan.state(),
                "data_rng": batches.rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
                "step": step,
                "history": history,
                "best": best,
                "options": {k: str(v) for k, v in asdict(opts).items()},
            },
            tmp,
        )
        tmp.replace(ckpt_path)

    model.train()
    plan.start_step = step
    bar = tqdm(
        total=plan.total if plan.planned else None,
        initial=step,
        desc="train reader",
        dynamic_ncols=True,
        mininterval=10,
    )
    loss_avg = None
    run_start = time.time()
    start_step = step
    stream = batch_stream(batches, opts, step)  # a generator: nothing starts before the first batch
    while step < plan.total and not opts.export_only:
        images, targets = next(stream)
        images = images.to(device, non_blocking=True)
        target = targets.to(device, non_blocking=True)
        with autocast:
            logits = model.logits(images)
        logits = logits.float()
        if opts.head == "ctc":
            log_probs = logits.log_softmax(-1).transpose(0, 1)  # [T, N, C]
            lengths = (target != ALPHABET.index(PAD)).sum(1)
            steps_in = torch.full((len(target),), log_probs.shape[0], dtype=torch.long, device=device)
            loss = ctc_loss(log_probs, target, steps_in, lengths)
        else:
            loss = criterion(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        scheduler.step()
        ema.update_parameters(model)
        step += 1
        if plan.after(step):
            bar.total = plan.total
            log.info("planned %d steps to fit %.1f min", plan.total, opts.max_minutes)
        if step % 50 == 0 or loss_avg is None:
            value = loss.item()
            loss_avg = value if loss_avg is None else 0.9 * loss_avg + 0.1 * value
        bar.update(1)
        bar.set_postfix(loss=f"{loss_avg:.3f}", lr=f"{scheduler.get_last_lr()[0]:.1e}", refresh=False)
        out_of_time = bool(opts.max_minutes and (time.time() - t_start) / 60 > opts.max_minutes)
        out_of_time = out_of_time or step == opts.stop_at
        if step % opts.eval_every == 0 or step == plan.total or out_of_time:
            scores = {k: exact_match(ema.module, imgs, labels) for k, (imgs, labels) in dev.items()}
            raw = {k: exact_match(model, imgs, labels) for k, (imgs, labels) in dev.items()}
            mean = float(np.mean(list(scores.values()))) if scores else 0.0
            history.append(
                {
                    "step": step,
                    "loss": round(loss_avg, 4),
                    "dev": scores,
                    "dev_mean": mean,
                    "dev_raw": raw,
                    "minutes": round((time.time() - t_start) / 60, 1),
                }
            )
            log.info("step %d loss %.3f dev %s", step, loss_avg, {k: round(v, 3) for k, v in scores.items()})
            bar.write(
                f"step {step} loss {loss_avg:.3f} dev (EMA) "
                + " ".join(f"{k}={v:.3f}" for k, v in scores.items())
                + " raw "
                + " ".join(f"{k}={v:.3f}" for k, v in raw.items())
            )
            if mean >= best["score"]:
                best = {"score": mean, "step": step, "dev": scores}
                torch.save(ema.module.state_dict(), opts.out_dir / "best.pt")
            save()
        if out_of_time:
            log.warning("stopped at step %d of %d (time or stop_at reached)", step, plan.total)
            break
    bar.close()
    steps_per_s = (step - start_step) / max(time.time() - run_start, 1e-9)
    final = build_model(opts)
    if opts.export_weights == "raw":
        final.load_state_dict(model.state_dict())
    elif opts.export_weights == "best" and (opts.out_dir / "best.pt").is_file():
        final.load_state_dict(torch.load(opts.out_dir / "best.pt", weights_only=True, map_location="cpu"))
    else:
        final.load_state_dict(ema.module.state_dict())
    final = final.cpu()
    onnx_path = opts.out_dir / "reader.onnx"
    export_onnx(final, onnx_path, opts)
    metrics = {
        "steps": step,
        "best": best,
        "history": history,
        "data": stats,
        "minutes": round((time.time() - t_start) / 60, 1),
        "samples_per_s": round(steps_per_s * opts.batch, 1),
        "params": sum(p.numel() for p in final.parameters()),
        "exported": {
            "ema": f"EMA weights at step {step}",
            "raw": f"raw weights at step {step}",
            "best": f"EMA weights at step {best['step']} (best dev)",
        }.get(opts.export_weights),
    }
    (opts.out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    from .card import write_card

    write_card(opts, metrics, opts.out_dir / "MODEL_CARD.md")
    return metrics


def export_onnx(model, path: Path, opts: TrainOptions) -> None:
    """ONNX (opset 17, dynamic batch): uint8 [N, H, W, 3] RGB -> probabilities [N, slots, classes];
    the plate config (alphabet, pad, size, colour mode) is stored in the model's metadata and checked
    against the torch output on random inputs."""
    import onnx
    import onnxruntime as ort
    import torch

    model = model.eval()
    dummy = torch.zeros((1, opts.height, opts.width, 3), dtype=torch.uint8)
    tmp = path.with_suffix(".tmp.onnx")
    torch.onnx.export(
        model,
        (dummy,),
        str(tmp),
        input_names=["input"],
        output_names=["probs"],
        opset_version=17,
        dynamic_axes={"input": {0: "batch"}, "probs": {0: "batch"}},
        dynamo=False,
    )
    proto = onnx.load(str(tmp))
    meta = {
        "plate_config": json.dumps(
            {
                "max_plate_slots": int(model(dummy).shape[1]),
                "decoder": "ctc" if getattr(model, "is_ctc", False) else "slots",
                "alphabet": ALPHABET,
                "pad_char": PAD,
                "img_height": opts.height,
                "img_width": opts.width,
                "image_color_mode": "rgb",
                "keep_aspect_ratio": False,
            }
        ),
        "producer": "ovr-alpr train reader",
    }
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(proto, str(path))
    tmp.unlink(missing_ok=True)
    x = np.random.default_rng(0).integers(0, 256, (4, opts.height, opts.width, 3), dtype=np.uint8)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})[0]
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    diff = float(np.abs(got - want).max())
    if diff > 1e-4:
        raise RuntimeError(f"ONNX export differs from torch by {diff}")
    log.info("exported %s (ORT == torch within %.1e)", path, diff)
