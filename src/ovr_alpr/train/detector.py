"""`ovr-alpr train detector`: fine-tunes a nano YOLO plate detector at 416 with Ultralytics, exports ONNX.

Steps: build the dataset (`detector_data`: shared photos + rendered scenes, checked against the evaluation
sets by `eval_guard`), train with Ultralytics (seeded; its progress bars show each epoch's ETA, and one log
line per epoch gives the run's), or resume from `last.pt`; export `best.pt` to ONNX (opset 17, 1x3x416x416,
box-only detect head: [1, 5, anchors]); write the model card.

Needs the `[train]` extra (torch, Ultralytics; torchvision is made importable by `torchvision_shim`).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import ConfigError, ModelError
from ..labels import yolo_rows, yolo_xyxy
from ..runtime.backends.base import parse_class_names
from .detector_data import SOURCES, DatasetCounts, build_dataset, read_manifest, write_data_yaml
from .eval_guard import find_leaks

log = logging.getLogger(__name__)


def onnx_name(imgsz: int) -> str:
    """The exported model's file name: `plate_nano<imgsz>.onnx` (its card: the same stem, `.md`)."""
    return f"plate_nano{imgsz}.onnx"


@dataclass
class DetectorTrainConfig:
    """What `train_detector` does; every field is a `train detector` option.

    Attributes:
        out_dir: run folder: `data/` (the dataset), `run/` (Ultralytics' run), the ONNX and the card.
        weights: starting `.pt` checkpoint (a YOLOv8n/YOLO11n, ideally already trained on plates), or a
            detector's ONNX export such as the shipped `assets/plate_detector.onnx` (`checkpoint_from_onnx`).
        weights_licence: its licence, for the card.
        data_dir: the shared YOLO detection set (`shared/data/train/detect`), or None for scenes only.
        eval_dirs: evaluation folders no training image may come from (checked before training).
        synth_train / synth_val: rendered scenes added to each split.
        crop_dir: `shared/data/train/ocr` (real plate photos), mounted in `crop_scenes_*` more scenes.
        kit_scenes_train / kit_scenes_val: more scenes with plates of the reader's renderer
            (`synth.platekit`: many layouts, US emblems between the groups), see `build_dataset`.
        epochs: epochs (Ultralytics re-plans them to fit `hours` when that is set).
        hours: wall-time budget of the training, or None.
        imgsz / batch / workers / device / seed: as in Ultralytics.
        close_mosaic: last epochs trained without mosaic.
        lr0: AdamW at this learning rate (None: Ultralytics' `auto`, AdamW at 0.002 for runs this short);
            lower keeps a fine-tune of a good detector nearer its start.
        resume: continue `run/weights/last.pt` with its own arguments.
        dataset: a dataset folder built before (`data.yaml`, `manifest.csv`, `counts.json`, images and
            labels, e.g. an earlier run's `data/` copied to another machine): used as it is instead of
            building one; still checked against `eval_dirs`.
        align_boxes: redraw the shared photos' loose boxes as the embedded platedet draws them, tight
            to the plate (`detector_data.align_boxes`), when building the dataset.
    """

    out_dir: Path
    weights: Path
    weights_licence: str = "AGPL-3.0"
    data_dir: Path | None = None
    eval_dirs: list[Path] = field(default_factory=list)
    synth_train: int = 900
    synth_val: int = 120
    crop_dir: Path | None = None
    crop_scenes_train: int = 0
    crop_scenes_val: int = 0
    kit_scenes_train: int = 0
    kit_scenes_val: int = 0
    epochs: int = 30
    hours: float | None = None
    imgsz: int = 416
    batch: int = 16
    workers: int = 0
    device: str = "cpu"
    seed: int = 0
    close_mosaic: int = 2
    lr0: float | None = None
    resume: bool = False
    dataset: Path | None = None
    align_boxes: bool = True
    osd: float = 0.0


@dataclass
class DetectorTrainResult:
    onnx_path: Path
    card_path: Path
    best_pt: Path
    metrics: dict[str, float]
    epochs_done: int
    wall_s: float


def _import_yolo():
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")  # never pip-install behind the user's back
    os.environ.setdefault("YOLO_OFFLINE", "1")
    try:
        from .torchvision_shim import ensure_torchvision

        ensure_torchvision()
        from ultralytics import YOLO
    except ImportError as exc:
        raise ModelError(
            f"training the detector needs torch, torchvision and ultralytics ({exc})",
            "pip install 'ovr-alpr[train]'",
        ) from None
    return YOLO


def _eta_callback(started: float):
    """An Ultralytics `on_fit_epoch_end` callback logging the whole run's progress and ETA."""

    def on_fit_epoch_end(trainer) -> None:
        done = trainer.epoch + 1
        total = trainer.epochs
        elapsed = time.perf_counter() - started
        eta = elapsed / done * (total - done)
        fitness = getattr(trainer, "fitness", None)
        log.warning(
            "epoch %d/%d done, %.1f min elapsed, ETA %.1f min, fitness %s",
            done,
            total,
            elapsed / 60,
            eta / 60,
            "-" if fitness is None else f"{float(fitness):.4f}",
        )

    return on_fit_epoch_end


#: Architectures a shipped detector ONNX is matched against (the one whose weights fit every initializer).
ONNX_ARCHITECTURES = ("yolov8n.yaml", "yolo11n.yaml", "yolov8s.yaml", "yolo11s.yaml")


def checkpoint_from_onnx(onnx_path: Path, out_pt: Path, images: list[np.ndarray]) -> Path:
    """An Ultralytics checkpoint (`.pt`) of the detector exported to `onnx_path`, to fine-tune a shipped
    detector (e.g. `src/ovr_alpr/assets/plate_detector.onnx`) that keeps no checkpoint.

    The architecture is the one of `ONNX_ARCHITECTURES` whose parameters have the graph's initializer names
    and shapes (Ultralytics exports them under the module names); each folded convolution + batch norm is
    unfolded by `train.unfold`, its statistics measured on `images` (BGR frames, resized to the input).
    The rebuilt network must give the graph's scores within 0.02 (the shipped graph computes in FP16).

    Raises:
        ConfigError: no architecture fits the graph, or the rebuilt network does not reproduce it.
    """
    import cv2
    import onnx
    import onnxruntime as ort
    import torch

    _import_yolo()
    from ultralytics.nn.tasks import DetectionModel

    from .unfold import calibrate, set_folded

    proto = onnx.load(str(onnx_path))
    init = {
        t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).astype(np.float32))
        for t in proto.graph.initializer
    }
    meta = {p.key: p.value for p in proto.metadata_props}
    names = parse_class_names(meta.get("names")) or {0: "plate"}
    size = int(proto.graph.input[0].type.tensor_type.shape.dim[2].dim_value or 640)
    folded = sorted(k[: -len(".conv.weight")] for k in init if k.endswith(".conv.weight"))
    folded = [k for k in folded if k + ".conv.bias" in init]
    plain = [k for k in init if not any(k.startswith(p + ".conv.") for p in folded)]
    model = None
    for arch in ONNX_ARCHITECTURES:
        candidate = DetectionModel(arch, nc=len(names), verbose=False)
        params = dict(candidate.named_parameters())
        fits = all(
            f"{p}.conv.weight" in params
            and params[f"{p}.conv.weight"].shape == init[f"{p}.conv.weight"].shape
            for p in folded
        ) and all(k in params and params[k].shape == init[k].shape for k in plain)
        if fits:
            model, architecture = candidate, arch
            break
    if model is None:
        raise ConfigError(
            f"{onnx_path}: its weights fit none of {', '.join(ONNX_ARCHITECTURES)}",
            "give the Ultralytics .pt the model was exported from",
        )
    modules = dict(model.named_modules())
    pairs = [(modules[p].conv, modules[p].bn) for p in folded]
    for (conv, bn), p in zip(pairs, folded, strict=True):
        set_folded(conv, bn, init[f"{p}.conv.weight"], init[f"{p}.conv.bias"])
    with torch.no_grad():
        params = dict(model.named_parameters())
        for k in plain:
            params[k].copy_(init[k])
    batch = np.stack([cv2.resize(im, (size, size))[..., ::-1] for im in images]).transpose(0, 3, 1, 2)
    x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32) / 255.0)
    calibrate(model, pairs, lambda: model(x))
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0].name
    got = np.concatenate([session.run(None, {feed: x[i : i + 1].numpy()})[0] for i in range(min(8, len(x)))])
    with torch.no_grad():
        want = model(x[: len(got)])[0].numpy()
    diff = float(np.abs(got[:, 4:] - want[:, 4:]).max())
    if diff > 0.02:
        raise ConfigError(
            f"{onnx_path}: the rebuilt {architecture} differs from the graph by {diff:.3f} in its scores",
            "give the Ultralytics .pt the model was exported from",
        )
    model.names = names
    model.args = {"imgsz": size, "task": "detect"}
    out_pt.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"model": model.float(), "train_args": {"imgsz": size}, "date": None, "version": meta.get("version")},
        out_pt,
    )
    log.info("rebuilt %s from %s (%s, scores within %.4f)", out_pt, onnx_path, architecture, diff)
    return out_pt


def sample_images(data_dir: Path, n: int = 32) -> list[np.ndarray]:
    """Up to `n` training images of a built dataset, evenly spread (BGR), to calibrate a rebuilt network."""
    import cv2

    files = sorted(p for p in (Path(data_dir) / "images" / "train").iterdir() if p.suffix in (".jpg", ".png"))
    picked = (
        [files[i] for i in np.linspace(0, len(files) - 1, min(n, len(files))).astype(int)] if files else []
    )
    images = [im for im in (cv2.imread(str(p)) for p in picked) if im is not None]
    if not images:
        raise ConfigError(f"no training images in {data_dir}/images/train", "build the dataset first")
    return images


def train_detector(cfg: DetectorTrainConfig) -> DetectorTrainResult:
    """Builds the data, trains (or resumes), exports ONNX and writes the card (see the module docstring).

    Raises:
        ConfigError: missing weights or data, or an evaluation image in the training set.
        ModelError: torch/Ultralytics missing.
    """
    YOLO = _import_yolo()
    out = Path(cfg.out_dir)
    run_dir = out / "run"
    last = run_dir / "weights" / "last.pt"
    t0 = time.perf_counter()
    data_dir = Path(cfg.dataset) if cfg.dataset else out / "data"
    data_yaml = data_dir / "data.yaml"
    if cfg.resume:
        if not last.is_file():
            raise ConfigError(f"nothing to resume: {last} does not exist", "run without --resume first")
        model = YOLO(str(last))
        model.add_callback("on_fit_epoch_end", _eta_callback(t0))
        model.train(resume=True)
    else:
        if not Path(cfg.weights).is_file():
            raise ConfigError(f"starting weights {cfg.weights} not found", "pass --weights PATH to a .pt")
        if cfg.dataset:
            data_yaml = use_dataset(data_dir)
        else:
            data_yaml, _ = build_dataset(
                data_dir,
                cfg.data_dir,
                cfg.synth_train,
                cfg.synth_val,
                cfg.seed,
                crop_dir=cfg.crop_dir,
                crop_scenes_train=cfg.crop_scenes_train,
                crop_scenes_val=cfg.crop_scenes_val,
                kit_scenes_train=cfg.kit_scenes_train,
                kit_scenes_val=cfg.kit_scenes_val,
                box_reference=reference_boxes() if cfg.align_boxes and cfg.data_dir else None,
                osd=cfg.osd,
                eval_dirs=[d for d in cfg.eval_dirs if Path(d).is_dir()],
            )
        check_no_eval_images(data_dir / "manifest.csv", cfg.eval_dirs)
        weights = Path(cfg.weights)
        if weights.suffix == ".onnx":  # a shipped detector: rebuild a checkpoint from its graph
            weights = checkpoint_from_onnx(weights, out / "start.pt", sample_images(data_dir))
        model = YOLO(str(weights))
        model.add_callback("on_fit_epoch_end", _eta_callback(t0))
        model.train(**ultralytics_args(cfg, data_yaml, out))
    best = run_dir / "weights" / "best.pt"
    if not best.is_file():
        best = last
    onnx_path = export_onnx(best, out / onnx_name(cfg.imgsz), cfg.imgsz)
    metrics, epochs_done = read_results(run_dir / "results.csv")
    metrics.update(val_box_heights(data_dir, onnx_path, cfg.imgsz))
    wall_s = time.perf_counter() - t0
    counts = json.loads((data_dir / "counts.json").read_text())
    card = write_card(onnx_path.with_suffix(".md"), cfg, counts, metrics, epochs_done, wall_s, onnx_path)
    return DetectorTrainResult(onnx_path, card, best, metrics, epochs_done, wall_s)


def ultralytics_args(cfg: DetectorTrainConfig, data_yaml: Path, out: Path) -> dict[str, Any]:
    """The arguments `train_detector` gives Ultralytics' `train` for a new run (not a resume)."""
    args: dict[str, Any] = {
        "data": str(data_yaml),
        "imgsz": cfg.imgsz,
        "epochs": cfg.epochs,
        "batch": cfg.batch,
        "workers": cfg.workers,
        "device": cfg.device,
        "seed": cfg.seed,
        "deterministic": True,
        "project": str(out.resolve()),
        "name": "run",
        "exist_ok": True,
        "plots": False,  # plotting wants fonts from the internet
        "amp": cfg.device != "cpu",
        "close_mosaic": cfg.close_mosaic,
        "warmup_epochs": 0.5,  # fine-tuning a plate model: a short warm-up
        "patience": 100,
        "val": True,
    }
    if cfg.hours:
        args["time"] = cfg.hours
    if cfg.lr0:
        args.update(optimizer="AdamW", lr0=cfg.lr0)
    return args


def reference_boxes() -> Callable[[np.ndarray], np.ndarray]:
    """platedet (embedded, default thresholds) as the box reference: BGR image -> xyxy boxes. Always platedet,
    a detector trained on other data than ours, whatever the default type is: a detector trained here must
    not draw its own training boxes."""
    from ..config import PlateDetectorConfig
    from ..detect.plates import build_plate_detector

    detector = build_plate_detector(PlateDetectorConfig(type="platedet"))
    return lambda image: detector(image).xyxy


def box_heights(found: list[np.ndarray], labels: list[np.ndarray], min_iou: float = 0.5) -> dict[str, float]:
    """How boxes fit the labels' heights, image by image (xyxy arrays): for each label its best-overlapping
    box at IoU >= `min_iou`, that box's height over the label's; the median and the 10th percentile. mAP50
    counts a box over half of a plate's height as found; the reader misses such plates, the low tail shows
    them. A diagnostic, not a way to choose weights: across two detectors it went with the reading (split
    photos 0.939 / 0.913, 98 / 94 of the 111 US evaluation plates read end to end), across the epochs of one
    CPU run it did not (0.905 / 0.892 / 0.913 read 96 / 95 / 95; 2026-12-06). Each label takes its own best
    box, not one box per label as `evaluation.metrics.match_boxes` scores recall (a sibling layer, not
    importable here): a height, not a count."""
    from ..detect.ops import iou_matrix

    ratios: list[float] = []
    for boxes, truth in zip(found, labels, strict=True):
        if not len(boxes) or not len(truth):
            continue
        overlap = iou_matrix(boxes, truth)
        best = overlap.argmax(axis=0)  # each label's best box
        hit = overlap[best, np.arange(len(truth))] >= min_iou
        heights = (boxes[best, 3] - boxes[best, 1]) / (truth[:, 3] - truth[:, 1])
        ratios.extend(heights[hit].tolist())
    if not ratios:
        return {"box_height_matched": 0}
    arr = np.array(ratios)
    return {
        "box_height_median": round(float(np.median(arr)), 3),
        "box_height_p10": round(float(np.percentile(arr, 10)), 3),
        "box_height_matched": len(ratios),
    }


def val_box_heights(data_dir: Path, onnx_path: Path, imgsz: int) -> dict[str, float]:
    """`box_heights` of the exported model on the training set's own validation split (`images/val`, labels
    `0 cx cy w h` normalised), run as the pipeline runs it."""
    from ..config import PlateDetectorConfig
    from ..detect.plates import build_plate_detector

    detector = build_plate_detector(PlateDetectorConfig(model={"path": str(onnx_path), "input_size": imgsz}))
    found, labels = [], []
    for image_path in sorted((data_dir / "images" / "val").glob("*.jpg")):
        image = cv2.imread(str(image_path))
        if image is None:
            continue
        rows = yolo_rows(data_dir / "labels" / "val" / f"{image_path.stem}.txt")
        labels.append(yolo_xyxy(rows, image.shape[1], image.shape[0]))
        found.append(detector(image).xyxy)
    return box_heights(found, labels)


def use_dataset(data_dir: Path) -> Path:
    """`data_dir`'s `data.yaml`, pointed at `data_dir` where it is now (it may have been built elsewhere)."""
    missing = [n for n in ("manifest.csv", "counts.json", "images", "labels") if not (data_dir / n).exists()]
    if missing:
        raise ConfigError(
            f"{data_dir} is not a built dataset (missing {', '.join(missing)})",
            "pass the data/ folder of an earlier `ovr-alpr train detector` run",
        )
    return write_data_yaml(data_dir)


def check_no_eval_images(manifest: Path, eval_dirs: list[Path]) -> None:
    """Raises ConfigError when a training image of `manifest` is an evaluation image (path or hash)."""
    dirs = [d for d in eval_dirs if Path(d).is_dir()]
    if not dirs:
        log.warning("no evaluation folder found to check the training set against")
        return
    leaks = find_leaks(read_manifest(manifest), dirs)
    if leaks:
        first = leaks[0]
        raise ConfigError(
            f"{len(leaks)} training image(s) are evaluation images, e.g. {first.train_path} ~ "
            f"{first.eval_path} ({first.reason})",
            "remove them from the training data",
        )
    log.info("training set checked: no image of %s", ", ".join(str(d) for d in dirs))


def export_onnx(pt_path: Path, onnx_path: Path, imgsz: int) -> Path:
    """`pt_path` as ONNX at `onnx_path`: opset 17, static 1x3xSxS, FP32, the detect head's decoded output."""
    YOLO = _import_yolo()
    exported = YOLO(str(pt_path)).export(
        format="onnx", imgsz=imgsz, opset=17, simplify=False, dynamic=False, half=False, device="cpu"
    )
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(exported, onnx_path)
    return onnx_path


def read_results(results_csv: Path) -> tuple[dict[str, float], int]:
    """The validation metrics of the best epoch (highest mAP50-95) from Ultralytics' `results.csv`."""
    if not results_csv.is_file():
        return {}, 0
    with open(results_csv, newline="") as fh:
        rows = [{k.strip(): v for k, v in row.items()} for row in csv.DictReader(fh)]
    if not rows:
        return {}, 0
    key = "metrics/mAP50-95(B)"
    best = max(rows, key=lambda r: float(r.get(key) or 0))
    wanted = {
        "precision": "metrics/precision(B)",
        "recall": "metrics/recall(B)",
        "mAP50": "metrics/mAP50(B)",
        "mAP50-95": key,
    }
    metrics = {name: round(float(best[col]), 4) for name, col in wanted.items() if col in best}
    metrics["best_epoch"] = int(float(best.get("epoch", 0)))
    return metrics, len(rows)


def write_card(
    path: Path,
    cfg: DetectorTrainConfig,
    counts: dict,
    metrics: dict[str, float],
    epochs: int,
    wall_s: float,
    onnx_path: Path,
) -> Path:
    """The model card: what the model is, data sources with licences and counts, weights, metrics, command."""
    counts = dict(counts)
    alignment = counts.pop("box_alignment", None)
    osd_share = counts.pop("osd_share", 0.0)
    redrawn = counts.pop("scenes_redrawn", 0)
    c = DatasetCounts(**counts)
    lines = [
        f"# {onnx_path.name}: nano plate detector at {cfg.imgsz}",
        "",
        f"YOLO nano detect model (one class: `plate`), ONNX opset 17, input 1x3x{cfg.imgsz}x{cfg.imgsz} RGB "
        "0..1 letterboxed, output [1, 5, anchors] (cx, cy, w, h, score). "
        "Trained by `ovr-alpr train detector`.",
        "",
        "## Starting weights",
        "",
        f"`{Path(cfg.weights).name}`: {cfg.weights_licence}. (`fastanpr==0.1.13`'s `fastanpr/best.pt` is a "
        "YOLOv8n fine-tuned on plates from COCO, AGPL-3.0.)",
        "",
        "## Training data",
        "",
        "| source | licence | split | images | plates |",
        "|---|---|---|---|---|",
    ]
    for split, per_source in c.images.items():
        for source, n in per_source.items():
            origin, licence = SOURCES[source]
            lines.append(f"| {origin} | {licence} | {split} | {n} | {c.plates[split][source]} |")
    lines += [
        "",
        *_alignment_lines(alignment),
        *_osd_lines(osd_share),
        *(
            [f"{redrawn} rendered scene(s) hashed too near an evaluation image and were drawn again.", ""]
            if redrawn
            else []
        ),
        "No image of the evaluation sets (`shared/data/openalpr`) is in the training set: every training "
        "image was checked by path and by perceptual/average hash before training (`train.eval_guard`).",
        "",
        "## Training",
        "",
        f"- epochs run: {epochs}; wall time {wall_s / 60:.1f} min; device {cfg.device}; seed {cfg.seed}",
        f"- arguments: `{json.dumps({k: str(v) for k, v in asdict(cfg).items()})}`",
        f"- command: `ovr-alpr {' '.join(sys.argv[1:])}`",
        "",
        "## Metrics (validation split of the training data, best epoch)",
        "",
        *(f"- {k}: {v}" for k, v in metrics.items()),
        "",
        "Measured on the project's evaluation sets: see the project README (`ovr-alpr eval`, `validate`).",
        "",
    ]
    path.write_text("\n".join(lines))
    return path


def _osd_lines(share: float) -> list[str]:
    if not share:
        return []
    return [
        f"On-screen text (`--osd {share:g}`): {share:.0%} of the rendered scenes carry a camera's burnt-in "
        "text (date and time, camera or lane names, a speed) in a corner or along an edge, with no box: "
        "timestamps are not plates.",
        "",
    ]


def _alignment_lines(alignment: dict | None) -> list[str]:
    if not alignment:
        return ["The shared photos' boxes are used as drawn.", ""]
    return [
        "Box alignment (`--align-boxes`): the shared photos' boxes are drawn around the plate's frame; "
        f"{alignment['matched']} of them took the embedded platedet's box (IoU >= 0.4), the other "
        f"{alignment['scaled']} were shrunk about their centres by the matched ones' median label/detector "
        f"ratio, {alignment['width_ratio']:.3f} in width and {alignment['height_ratio']:.3f} in height, "
        "so every box is tight to the plate, as the evaluation labels and rendered scenes draw them.",
        "",
    ]
