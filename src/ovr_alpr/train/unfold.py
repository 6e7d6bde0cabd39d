"""Turn a shipped ONNX model back into a trainable network: its batch norms were folded into the convolutions.

A shipped model keeps no checkpoint, only its ONNX graph, where each convolution + batch norm pair became
one convolution with a bias. To fine-tune it, each pair gets the folded weights in the convolution and a
batch norm that adds the folded bias exactly in eval mode: its running mean and variance are measured on
sample inputs (so in training mode, with batch statistics, it starts close to the same function) and its
scale and shift undo them. Used by `ovr-alpr train reader` (our CTC reader) and `ovr-alpr train detector`
(Ultralytics YOLO).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def set_folded(conv: Any, bn: Any, weight: Any, bias: Any) -> None:
    """Put a folded (weight, bias) into a convolution without bias and the batch norm after it, the batch norm
    passing its input through plus `bias` (running mean 0, variance 1 - eps, scale 1) until calibrated."""
    import torch

    with torch.no_grad():
        conv.weight.copy_(weight)
        bn.weight.fill_(1.0)
        bn.bias.copy_(bias)
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0 - bn.eps)


def calibrate(model: Any, pairs: Sequence[tuple[Any, Any]], run: Callable[[], Any]) -> None:
    """Measure each pair's convolution output while `run()` feeds sample inputs through `model` in eval mode
    (the batch norms as `set_folded` left them, so every layer sees what the ONNX graph computes), then make
    each batch norm normalise with those statistics and scale back: same output in eval mode, close in
    training mode."""
    import torch

    stats: dict[int, Any] = {}

    def hook(index: int):
        def record(_module, _inputs, out):  # per-channel variance and mean only, not the activations
            stats[index] = torch.var_mean(out.detach().float(), dim=(0, 2, 3))

        return record

    handles = [conv.register_forward_hook(hook(i)) for i, (conv, _bn) in enumerate(pairs)]
    model.eval()
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    missing = [i for i in range(len(pairs)) if i not in stats]
    if missing:
        raise ValueError(f"{len(missing)} convolution(s) were not run by the sample inputs")
    with torch.no_grad():
        for i, (_conv, bn) in enumerate(pairs):
            var, mean = stats[i]
            var = var.clamp_min(1e-4)
            bias = bn.bias.detach().clone()
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
            bn.weight.copy_(torch.sqrt(var + bn.eps))
            bn.bias.copy_(mean + bias)
