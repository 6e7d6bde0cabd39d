"""`ovr-alpr train average`: the weight average of fine-tunes of one run, checked and refused."""

from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ovr_alpr.errors import ConfigError  # noqa: E402
from ovr_alpr.synth.platekit import render_sample  # noqa: E402
from ovr_alpr.train import reader as reader_mod  # noqa: E402
from ovr_alpr.train.average import average_runs  # noqa: E402
from ovr_alpr.train.manifest import Entry, read_manifest, write_manifest  # noqa: E402
from ovr_alpr.train.reader import TrainOptions, build_model, load_weights, train  # noqa: E402


def _tiny(out_dir, **changes) -> TrainOptions:
    base = {"synthetic": 32, "steps": 3, "batch": 8, "eval_every": 3, "threads": 1, "workers": 1}
    base |= {"head": "ctc", "width_mult": 0.5, "command": "pytest"}
    return TrainOptions(out_dir=out_dir, **{**base, **changes})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A run, and two fine-tunes of it with other seeds; held-out crops written as real ones would be."""
    root = tmp_path_factory.mktemp("avg")
    train(_tiny(root / "base"))
    a = train(_tiny(root / "a", seed=1, init_weights=root / "base" / "checkpoint.pt"))
    b = train(_tiny(root / "b", seed=2, init_weights=root / "base" / "checkpoint.pt"))
    assert a["steps"] == b["steps"] == 3
    rng = np.random.default_rng(0)
    crops = []
    for i in range(3):
        sample, path = render_sample(rng), root / f"crop{i}.png"
        cv2.imwrite(str(path), sample.image)
        crops.append(Entry(str(path), f"{sample.text}{i}", "test", "own", split="dev"))
    # run a trained on crop 0, run b held it out; crops 1 and 2 are held out of both
    write_manifest([replace(crops[0], split="train"), *crops[1:]], root / "a" / "manifest.jsonl")
    write_manifest(crops, root / "b" / "manifest.jsonl")
    (root / "a" / "synth-labels.txt").write_text("AA111\nBB222\n")
    (root / "b" / "synth-labels.txt").write_text("BB222\nCC333\n")
    return root


def test_average_is_the_mean_of_the_runs_and_keeps_their_data(runs, tmp_path):
    out = tmp_path / "avg"
    metrics = average_runs([runs / "a", runs / "b"], out, command="ovr-alpr train average a b")
    sa, sb = (load_weights(runs / r / "checkpoint.pt") for r in ("a", "b"))
    # the exported network computes what a network with the mean weights computes
    model = build_model(_tiny(out))
    mean = {k: ((v + sb[k]) / 2).to(v.dtype) if v.is_floating_point() else v for k, v in sa.items()}
    model.load_state_dict(mean)
    model.eval()
    x = np.random.default_rng(1).integers(0, 255, (2, 64, 128, 3), dtype=np.uint8)
    import onnxruntime as ort

    sess = ort.InferenceSession(str(out / "reader.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x})[0]
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)
    # far from either run's own weights: it is not a copy of one of them
    assert any(not torch.allclose(sa[k], sb[k]) for k in sa if sa[k].is_floating_point())
    # the union of the manifests: crop 0 counts as trained on; the leak test sees every crop and text
    splits = [e.split for e in read_manifest(out / "manifest.jsonl")]
    assert splits == ["train", "dev", "dev"]
    assert (out / "synth-labels.txt").read_text().split() == ["AA111", "BB222", "CC333"]
    # compared on the crops no run trained on
    assert metrics["held_out_crops"] == 2
    assert set(metrics["held_out_exact"]) == {"average", str(runs / "a"), str(runs / "b")}
    assert metrics["rendered_plates"] == 300
    assert set(metrics["rendered_exact"]) == set(metrics["held_out_exact"])
    card = (out / "MODEL_CARD.md").read_text()
    assert "ovr-alpr train average a b" in card and f"## Run `{runs / 'a'}`" in card
    assert json.loads((out / "metrics.json").read_text())["runs"][0]["steps"] == 3


@pytest.mark.parametrize("held_out", [True, False])
def test_average_refuses_runs_that_read_worse_together(runs, tmp_path, monkeypatch, held_out):
    # runs from different starts average to noise: the crops no run trained on show it, and where runs
    # with other seeds left no crop held out of all, freshly rendered plates do
    if not held_out:
        for name in ("a2", "b2"):
            (tmp_path / name).mkdir()
            (tmp_path / name / "checkpoint.pt").symlink_to(runs / name[0] / "checkpoint.pt")
            entries = read_manifest(runs / name[0] / "manifest.jsonl")
            write_manifest([replace(e, split="train") for e in entries], tmp_path / name / "manifest.jsonl")
    pair = [runs / "a", runs / "b"] if held_out else [tmp_path / "a2", tmp_path / "b2"]

    def scored(model, images, labels, batch=256):
        return 0.1 if getattr(model, "_averaged", False) else 0.9

    real_build = reader_mod.build_model
    built = []

    def build(opts):
        model = real_build(opts)
        model._averaged = not built  # the first network average_runs builds is the average
        built.append(model)
        return model

    monkeypatch.setattr(reader_mod, "exact_match", scored)
    monkeypatch.setattr(reader_mod, "build_model", build)
    what = "real crops no run trained on" if held_out else "freshly rendered plates"
    with pytest.raises(ConfigError, match=f"reads 10% of .* {what}.*do not share a start"):
        average_runs(pair, tmp_path / "x", command="test")
    assert not (tmp_path / "x" / "reader.onnx").exists()


def test_average_refuses_other_networks_and_single_runs(runs, tmp_path):
    other = tmp_path / "wide"
    train(_tiny(other, width_mult=0.75))
    with pytest.raises(ConfigError, match="width_mult"):
        average_runs([runs / "a", other], tmp_path / "x", command="test")
    deeper = tmp_path / "deeper"
    train(_tiny(deeper, context=1))
    with pytest.raises(ConfigError, match="context"):
        average_runs([runs / "a", deeper], tmp_path / "x", command="test")
    with pytest.raises(ConfigError, match="at least two"):
        average_runs([runs / "a"], tmp_path / "x", command="test")
    with pytest.raises(ConfigError, match=r"checkpoint\.pt does not exist"):
        average_runs([runs / "a", tmp_path / "nothing"], tmp_path / "x", command="test")


def test_runs_from_before_the_context_option_average_with_runs_after_it(runs, tmp_path):
    """A checkpoint written before `--context` existed names no context: it is a network without one."""
    import shutil

    old = tmp_path / "old"
    shutil.copytree(runs / "a", old)
    ckpt = torch.load(old / "checkpoint.pt", weights_only=False)
    del ckpt["options"]["context"]
    torch.save(ckpt, old / "checkpoint.pt")
    metrics = average_runs([old, runs / "b"], tmp_path / "avg", command="pytest")
    assert (tmp_path / "avg" / "reader.onnx").is_file() and len(metrics["runs"]) == 2


def test_a_reader_onnx_joins_the_runs_started_from_it(runs, tmp_path):
    """Runs fine-tuned from a shipped reader's ONNX average with it (it keeps no checkpoint)."""
    start = runs / "base" / "reader.onnx"
    tuned = train(_tiny(tmp_path / "c", seed=3, init_weights=start))
    assert tuned["steps"] == 3
    write_manifest(read_manifest(runs / "b" / "manifest.jsonl"), tmp_path / "c" / "manifest.jsonl")
    out = tmp_path / "avg"
    metrics = average_runs([start, tmp_path / "c"], out, command="ovr-alpr train average base.onnx c")
    assert [r["run"] for r in metrics["runs"]] == [str(tmp_path / "c"), str(start)]
    assert set(metrics["rendered_exact"]) == {"average", str(tmp_path / "c"), str(start)}
    assert (out / "reader.onnx").is_file() and (out / "manifest.jsonl").is_file()
    # the average lies between the two: its first convolution is the mean of theirs
    import onnx

    def first_conv(path):
        proto = onnx.load(str(path))
        name = next(n for n in proto.graph.node if n.op_type == "Conv").input[1]
        return next(onnx.numpy_helper.to_array(t) for t in proto.graph.initializer if t.name == name)

    a, c, avg = first_conv(start), first_conv(tmp_path / "c" / "reader.onnx"), first_conv(out / "reader.onnx")
    assert not np.allclose(a, c) and np.abs(avg - (a + c) / 2).max() < 0.05 * np.abs(a).max()
    with pytest.raises(ConfigError, match="no run folder"):
        average_runs([start, start], tmp_path / "x", command="pytest")


def test_a_reader_onnx_brings_the_manifest_beside_it(runs, tmp_path):
    """An average's manifest is all its inputs saw: a crop only the ONNX input's run trained on is in it as
    trained on, so the leak tests read it and the average's held-out check leaves it out."""
    start = tmp_path / "start"
    start.mkdir()
    (start / "reader.onnx").write_bytes((runs / "base" / "reader.onnx").read_bytes())
    crops = read_manifest(runs / "b" / "manifest.jsonl")  # all three held out
    write_manifest([replace(crops[2], split="train"), *crops[:2]], start / "manifest.jsonl")
    tuned = tmp_path / "c"
    train(_tiny(tuned, seed=4, init_weights=start / "reader.onnx"))
    write_manifest(crops, tuned / "manifest.jsonl")
    out = tmp_path / "avg"
    average_runs([start / "reader.onnx", tuned], out, command="ovr-alpr train average start/reader.onnx c")
    splits = {e.label: e.split for e in read_manifest(out / "manifest.jsonl")}
    assert splits == {crops[0].label: "dev", crops[1].label: "dev", crops[2].label: "train"}
