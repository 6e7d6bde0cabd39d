"""A few training steps on rendered plates: loss is finite, checkpoints resume, the ONNX export matches."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ovr_alpr.train.reader import TrainOptions, train  # noqa: E402


def tiny(out_dir, **changes) -> TrainOptions:
    """A run small enough for a test: few rendered plates, a half-width network, one thread."""
    base = {"synthetic": 48, "steps": 4, "batch": 8, "eval_every": 2, "threads": 1, "workers": 1}
    return TrainOptions(out_dir=out_dir, width_mult=0.5, command="pytest", **{**base, **changes})


def test_train_resume_and_export(tmp_path):
    opts = tiny(tmp_path / "run")
    first = train(TrainOptions(**{**opts.__dict__, "steps": 6, "stop_at": 4}))  # as if interrupted
    assert first["steps"] == 4
    assert all(np.isfinite(h["loss"]) for h in first["history"])
    # resume continues from the checkpoint instead of starting again
    resumed = train(TrainOptions(**{**opts.__dict__, "steps": 6, "resume": True}))
    assert resumed["steps"] == 6 and [h["step"] for h in resumed["history"]] == [2, 4, 6]
    onnx_path = tmp_path / "run" / "reader.onnx"
    assert onnx_path.is_file() and (tmp_path / "run" / "MODEL_CARD.md").is_file()
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert json.loads(meta["plate_config"])["max_plate_slots"] == 10

    from ovr_alpr.ocr import build_reader
    from ovr_alpr.pipeline.config import AppConfig

    cfg = AppConfig.model_validate({"ocr": {"type": "ovr", "model": {"path": str(onnx_path)}}})
    reader = build_reader(cfg.ocr)
    read = reader.read(np.zeros((40, 160, 3), np.uint8))
    assert len(read.char_confidences) == len(read.text)


def test_ctc_head_with_batch_processes_and_planned_steps(tmp_path):
    # --steps 0: the warm-up measures the speed, then the steps that fit --max-minutes are planned
    opts = tiny(
        tmp_path / "ctc",
        steps=0,
        max_minutes=1.0,
        warmup_steps=4,
        eval_every=1000,
        loader_workers=1,
        head="ctc",
    )
    metrics = train(opts)
    # planned from the measured speed: more than the warm-up, and the run stopped at the plan
    assert metrics["steps"] > 4
    assert metrics["history"][-1]["step"] == metrics["steps"]
    card = (tmp_path / "ctc" / "MODEL_CARD.md").read_text()
    assert "CNN + CTC" in card and f"--steps {metrics['steps']}" in card
    assert "1 batch process (" in card  # one process, said so
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "ctc" / "reader.onnx")).metadata_props}
    assert json.loads(meta["plate_config"])["decoder"] == "ctc"


def test_renderer_style_reaches_the_plates_the_cache_and_the_card(tmp_path):
    from ovr_alpr.errors import ConfigError

    opts = tiny(tmp_path / "st", steps=2, us_round_glyph="printed", us_mixed_series=False)
    train(opts)
    run = tmp_path / "st"
    # a style other than the default renders into its own cache file, so it never reuses another's plates
    assert (run / "synth-48-usprinted-nomixed.npz").is_file() and not (run / "synth-48.npz").exists()
    card = (run / "MODEL_CARD.md").read_text()
    assert "labelled as drawn (O or 0); without the mixed" in card
    assert "`--us-round-glyph printed`, `--no-us-mixed-series`" in card
    with pytest.raises(ConfigError, match="us_round_glyph"):
        train(tiny(tmp_path / "bad", us_round_glyph="round"))


def test_learning_rate_schedule_and_step_plan():
    from ovr_alpr.train.reader import lr_factor, planned_steps

    assert lr_factor(0, 100, 10) == pytest.approx(0.05)
    assert lr_factor(10, 100, 10) == pytest.approx(1.0)
    assert lr_factor(55, 100, 10) == pytest.approx(0.01 + 0.99 * 0.5)
    assert lr_factor(100, 100, 10) == pytest.approx(0.01) and lr_factor(500, 100, 10) == pytest.approx(0.01)
    assert planned_steps(300, 50.0, 100.0) == 300 + int(50 * 100 * 0.95)
    assert planned_steps(300, 50.0, -5.0) == 301  # no time left: stop at the next step


def test_fine_tune_starts_from_earlier_weights(tmp_path, caplog):
    import logging

    from ovr_alpr.train.reader import build_model, load_weights

    base = tiny(tmp_path / "a", synthetic=16, steps=2, batch=4, head="ctc")
    train(base)
    model = build_model(base)
    for source in (tmp_path / "a" / "checkpoint.pt", tmp_path / "a" / "best.pt"):  # both layouts load
        weights = load_weights(source)
        model.load_state_dict(weights)
        assert set(weights) == set(model.state_dict())
    with caplog.at_level(logging.INFO, logger="ovr_alpr.train.reader"):
        tuned = train(
            TrainOptions(
                **{
                    **base.__dict__,
                    "out_dir": tmp_path / "b",
                    "init_weights": tmp_path / "a" / "checkpoint.pt",
                    "geometry": 1.5,
                    "camera": 0.5,
                }
            )
        )
    assert "starting from the weights of" in caplog.text and tuned["steps"] == 2
    card = (tmp_path / "b" / "MODEL_CARD.md").read_text()
    assert "Fine-tuned from `checkpoint.pt` (crop jitter x1.5)" in card
    assert "50% of the crops were made to look as a far camera cuts them" in card


@pytest.mark.parametrize("context", [0, 2])
def test_a_shipped_onnx_reader_is_rebuilt_exactly_and_fine_tunes(tmp_path, context):
    """The shipped reader keeps no checkpoint: its folded ONNX graph is turned back into the network."""
    from ovr_alpr.train.reader import build_model, export_onnx, weights_from_onnx

    opts = tiny(tmp_path / "a", head="ctc", context=context)
    source = build_model(opts)
    gen = torch.Generator().manual_seed(0)
    for m in source.modules():  # batch norms that do something, so folding them changes the weights
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.5, generator=gen)
            m.running_var.uniform_(0.3, 2.0, generator=gen)
            m.weight.data.uniform_(0.5, 1.5, generator=gen)
            m.bias.data.normal_(0, 0.3, generator=gen)
    onnx_path = tmp_path / "shipped.onnx"
    export_onnx(source, onnx_path, opts)
    images = np.random.default_rng(0).integers(0, 256, (32, opts.height, opts.width, 3), dtype=np.uint8)
    rebuilt = build_model(opts)
    rebuilt.load_state_dict(weights_from_onnx(onnx_path, rebuilt, images))
    rebuilt.eval()
    with torch.no_grad():
        x = torch.from_numpy(images)
        assert torch.allclose(rebuilt(x), source.eval()(x), atol=1e-4)
    with pytest.raises(ValueError, match="width-mult"):  # another width does not fit
        wider = build_model(TrainOptions(**{**opts.__dict__, "width_mult": 1.0}))
        weights_from_onnx(onnx_path, wider, images)
    with pytest.raises(ValueError, match="--context"):  # nor other context blocks
        weights_from_onnx(onnx_path, build_model(TrainOptions(**{**opts.__dict__, "context": 1})), images)
    tuned = train(TrainOptions(**{**opts.__dict__, "out_dir": tmp_path / "b", "init_weights": onnx_path}))
    assert tuned["steps"] == opts.steps


def test_context_blocks_widen_what_a_column_sees():
    """`context=N`: a CTC column also sees the plate's far side, along its own row only."""
    from ovr_alpr.train.model import CtcReader

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (1, 64, 128, 3), dtype=np.uint8)
    far = x.copy()
    # from px 48 on: beyond what the backbone's first 4 columns see (to about px 35), within the context's
    far[:, :, 48:] = rng.integers(0, 256, (1, 64, 80, 3), dtype=np.uint8)
    seen = {}
    for context in (0, 3):
        torch.manual_seed(0)
        model = CtcReader(width_mult=0.5, context=context).eval()
        with torch.no_grad():
            a, b = (model.logits(torch.from_numpy(v)) for v in (x, far))
        seen[context] = float((a[0, :4] - b[0, :4]).abs().max())  # the first 4 columns of the top row
        assert len(model.conv_layers()) == 7 + context
    assert seen[0] == 0.0 and seen[3] > 0.0  # exactly unseen without, seen with
    with pytest.raises(ValueError, match="context must be 0-4"):
        CtcReader(context=5)


def test_context_with_a_fixed_slot_head_is_a_one_line_error_before_anything_is_written(tmp_path):
    from ovr_alpr.errors import ConfigError

    with pytest.raises(ConfigError, match="--context 2 needs --head ctc, not fc"):
        train(tiny(tmp_path / "a", head="fc", context=2))
    assert not (tmp_path / "a").exists()


def test_the_card_names_the_context_blocks():
    from ovr_alpr.train.card import _network_lines

    lines = " ".join(_network_lines(TrainOptions(head="ctc", context=3), {"params": 1}))
    assert "3 residual 1x3 convolutions along each row (dilations 1, 2, 4:" in lines
    assert "residual" not in " ".join(_network_lines(TrainOptions(head="ctc"), {"params": 1}))


def test_an_onnx_that_is_no_reader_is_a_one_line_config_error(tmp_path):
    from ovr_alpr.errors import ConfigError
    from ovr_alpr.runtime.zoo import default_model_path

    opts = tiny(tmp_path / "a", head="ctc", init_weights=default_model_path("plate_ovr"))  # a detector
    with pytest.raises(ConfigError, match="convolutions, the network has"):
        train(opts)


def test_autocast_choice(monkeypatch):
    """`auto` is bf16 where the CPU has bf16 kernels and on CUDA, fp32 elsewhere; `bf16` without them is
    refused in one line; an unknown word is refused."""
    from ovr_alpr.errors import ConfigError
    from ovr_alpr.train.reader import autocast_dtype

    assert autocast_dtype("fp32", "cpu") == "fp32" and autocast_dtype("fp32", "cuda") == "fp32"
    assert autocast_dtype("auto", "cuda:0") == "bf16"
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert autocast_dtype("auto", "cpu") == "bf16" and autocast_dtype("bf16", "cpu") == "bf16"
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert autocast_dtype("auto", "cpu") == "fp32"
    with pytest.raises(ConfigError, match="no bf16 kernels"):
        autocast_dtype("bf16", "cpu")
    with pytest.raises(ConfigError, match="not a choice"):
        autocast_dtype("fp16", "cpu")


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="this CPU has no bf16 kernels")
def test_bf16_on_cpu_trains_and_exports_fp32(tmp_path):
    """A bf16 run on a CPU learns (finite loss), says so on its card, and exports an fp32 ONNX that
    matches the network."""
    metrics = train(tiny(tmp_path / "bf", head="ctc", autocast="bf16"))
    assert all(np.isfinite(h["loss"]) for h in metrics["history"])
    card = (tmp_path / "bf" / "MODEL_CARD.md").read_text()
    assert "(bf16 autocast)" in card
    import onnx

    graph = onnx.load(str(tmp_path / "bf" / "reader.onnx")).graph
    assert all(t.data_type == onnx.TensorProto.FLOAT for t in graph.initializer if t.dims)


def test_the_card_says_where_and_how_a_run_ran():
    from types import SimpleNamespace

    from ovr_alpr.train.card import _where

    cpu = SimpleNamespace(device="cpu", threads=2, loader_workers=1, autocast="fp32")
    assert _where(cpu) == "2 CPU threads, 1 batch process"
    assert _where(SimpleNamespace(**{**cpu.__dict__, "autocast": "bf16", "loader_workers": 2})) == (
        "2 CPU threads (bf16 autocast), 2 batch processes"
    )
    cuda = SimpleNamespace(device="cuda", threads=2, loader_workers=7, autocast="fp32")
    assert "(bf16 autocast)" not in _where(cuda)
    assert "(bf16 autocast)" in _where(SimpleNamespace(**{**cuda.__dict__, "autocast": "bf16"}))


def test_a_wrong_round_glyph_choice_is_a_one_line_error_before_any_data_is_read(tmp_path, capsys):
    from ovr_alpr.cli import main

    code = main(["train", "reader", "--out-dir", str(tmp_path / "r"), "--us-round-glyph", "o"])
    err = capsys.readouterr().err
    assert code != 0 and "us_round_glyph" in err and "--us-round-glyph zero" in err
    assert "Traceback" not in err and not (tmp_path / "r").exists()
