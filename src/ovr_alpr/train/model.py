"""The plate reader network: a small CNN and one attention query per character slot.

Input uint8 NHWC RGB (as fast-plate-ocr models take it; scaling happens inside the graph), output
softmax probabilities [N, slots, classes]. Every slot attends over the whole feature map, so stacked
(two-line) plates are read in one pass.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _conv(c_in: int, c_out: int, stride: int | tuple[int, int] = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)
    )


#: Dilations of the CTC reader's context blocks, in order (`context=N` uses the first N).
CONTEXT_DILATIONS = (1, 2, 4, 8)


def _row_conv(channels: int, dilation: int) -> nn.Sequential:
    """A 1 x 3 convolution along a row of the feature map, `dilation` columns apart, BN, ReLU."""
    return nn.Sequential(
        nn.Conv2d(channels, channels, (1, 3), 1, (0, dilation), (1, dilation), bias=False),
        nn.BatchNorm2d(channels),
        nn.ReLU(inplace=True),
    )


class SlotReader(nn.Module):
    """CNN backbone (stride 8) -> `slots` learned queries with multi-head attention -> classes per slot.

    Args:
        slots: characters per plate at most (shorter plates are padded with the pad class).
        classes: alphabet size including the pad class.
        height, width: input image size in px.
        width_mult: scales the channel counts.
        heads: attention heads (`head="attention"`).
        head: `fc` (features at stride 16, flattened, one linear layer to all slots: converges fastest)
            or `attention` (one learned query per slot over the stride-8 map).
    """

    def __init__(
        self,
        slots: int = 10,
        classes: int = 37,
        height: int = 64,
        width: int = 128,
        width_mult: float = 1.0,
        heads: int = 4,
        head: str = "fc",
    ) -> None:
        super().__init__()
        c = [max(8, round(v * width_mult / 8) * 8) for v in (32, 64, 128, 160)]
        self.slots, self.classes, self.heads, self.head = slots, classes, heads, head
        if head == "fc":
            self.backbone = nn.Sequential(
                _conv(3, c[0], 2),
                _conv(c[0], c[1], 2),
                _conv(c[1], c[1]),
                _conv(c[1], c[2], 2),
                _conv(c[2], c[2]),
                _conv(c[2], c[2], 2),
                nn.Conv2d(c[2], 48, 1, bias=False),
                nn.BatchNorm2d(48),
                nn.ReLU(inplace=True),
            )
            self.fc = nn.Sequential(
                nn.Dropout(0.2), nn.Linear(48 * (height // 16) * (width // 16), slots * classes)
            )
            return
        self.backbone = nn.Sequential(
            _conv(3, c[0], 2),
            _conv(c[0], c[1], 2),
            _conv(c[1], c[1]),
            _conv(c[1], c[2], 2),
            _conv(c[2], c[2]),
            _conv(c[2], c[3]),
        )
        dim = c[3]
        self.dim = dim
        n_pos = (height // 8) * (width // 8)
        self.pos = nn.Parameter(torch.randn(1, n_pos, dim) * 0.02)
        self.queries = nn.Parameter(torch.randn(1, slots, dim) * 0.02)
        self.norm_kv = nn.LayerNorm(dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.norm_out = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.dropout = nn.Dropout(0.1)
        self.classifier = nn.Linear(dim, classes)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """[N, H, W, 3] uint8 (or float 0..255) -> [N, slots, classes] logits."""
        x = images.permute(0, 3, 1, 2).float() * (1.0 / 255.0)
        f = self.backbone(x)  # [N, C, h, w]
        n = f.shape[0]
        if self.head == "fc":
            return self.fc(f.flatten(1)).reshape(n, self.slots, self.classes)
        f = f.flatten(2).transpose(1, 2)  # [N, h*w, C]
        f = self.norm_kv(f + self.pos)
        head_dim = self.dim // self.heads
        k = self.key(f).reshape(n, -1, self.heads, head_dim).transpose(1, 2)  # [N, heads, P, d]
        v = self.value(f).reshape(n, -1, self.heads, head_dim).transpose(1, 2)
        q = self.queries.expand(n, -1, -1).reshape(n, self.slots, self.heads, head_dim).transpose(1, 2)
        attn = torch.softmax(q @ k.transpose(2, 3) * (1.0 / math.sqrt(head_dim)), dim=-1)
        s = (attn @ v).transpose(1, 2).reshape(n, self.slots, self.dim)
        s = self.queries + self.proj(s)
        s = s + self.mlp(self.norm_out(s))
        return self.classifier(self.dropout(s))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(images), dim=-1)


class CtcReader(nn.Module):
    """CNN to a 2 x 32 map of character-or-blank predictions, read row by row with CTC.

    Each of the 64 positions sees the whole plate height, so a one-line plate is emitted along one row
    and a two-line plate's top line along the top row, its bottom line along the bottom row: read in one
    pass, in reading order. Output softmax [N, 64, classes]; the last class is the blank.

    A backbone column sees about 47 px of the 128 px width (about three characters). `context=N` adds N
    residual 1 x 3 convolutions along each row (dilations 1, 2, 4, 8), so each position sees most of its
    line (N=3: 79 px to each side) and can weigh a glyph by the characters around it (an 8 among digits,
    a B among letters), as a CRNN's recurrent layer does, in convolutions that fold and quantise like the
    rest. They run along the rows, never across them.
    """

    is_ctc = True

    def __init__(
        self,
        classes: int = 37,
        height: int = 64,
        width: int = 128,
        width_mult: float = 1.0,
        context: int = 0,
    ) -> None:
        super().__init__()
        c = [max(8, round(v * width_mult / 8) * 8) for v in (32, 48, 96, 128)]
        self.classes = classes
        self.backbone = nn.Sequential(
            _conv(3, c[0], 2),  # 32 x 64
            _conv(c[0], c[1], 2),  # 16 x 32
            _conv(c[1], c[1]),
            _conv(c[1], c[2], (2, 1)),  # 8 x 32
            _conv(c[2], c[2]),
            _conv(c[2], c[2], (2, 1)),  # 4 x 32
            _conv(c[2], c[3], (2, 1)),  # 2 x 32
            nn.Dropout(0.1),
        )
        if not 0 <= context <= len(CONTEXT_DILATIONS):
            raise ValueError(f"context must be 0-{len(CONTEXT_DILATIONS)}, not {context}")
        self.context = nn.ModuleList(_row_conv(c[3], d) for d in CONTEXT_DILATIONS[:context])
        self.classifier = nn.Conv2d(c[3], classes, 1)

    def conv_layers(self) -> list[nn.Sequential]:
        """The conv-BN-ReLU layers in the order they run (the classifier after them)."""
        return [m for m in self.backbone if isinstance(m, nn.Sequential)] + list(self.context)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """[N, H, W, 3] uint8 -> [N, T, classes] logits, T = rows x columns in reading order."""
        x = images.permute(0, 3, 1, 2).float() * (1.0 / 255.0)
        f = self.backbone(x)  # [N, C, 2, 32]
        for block in self.context:
            f = f + block(f)
        f = self.classifier(f)  # [N, classes, 2, 32]
        return f.flatten(2).transpose(1, 2)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(images), dim=-1)
