"""VGG19's layer tables, without torch: the loss config validates ``--loss.vgg-layers``
against them (so ``neutex --help`` stays instant), and :mod:`neutex.train.vgg` builds the
network from them."""

from __future__ import annotations

from typing import Literal, get_args

#: torchvision's VGG19 ("E") configuration: conv widths, "M" = 2×2 max pool.
VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")

VGGLayer = Literal[
    "relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu3_3", "relu3_4",
    "relu4_1", "relu4_2", "relu4_3", "relu4_4", "relu5_1", "relu5_2", "relu5_3", "relu5_4",
]


def _layer_indices() -> dict[str, int]:
    """relu name -> index in ``vgg19().features`` (relu1_2 -> 3, relu5_4 -> 35)."""
    out, idx, block, conv = {}, 0, 1, 1
    for v in VGG19_CFG:
        if v == "M":
            idx += 1
            block, conv = block + 1, 1
        else:
            out[f"relu{block}_{conv}"] = idx + 1
            idx += 2
            conv += 1
    return out


#: relu layer name -> its index in torchvision's ``vgg19().features``.
VGG19_LAYERS: dict[str, int] = _layer_indices()
assert tuple(VGG19_LAYERS) == get_args(VGGLayer)

#: the last relu of each of VGG19's five blocks: neutex's default perceptual layers.
VGG_BLOCK_END_LAYERS: tuple[str, ...] = ("relu1_2", "relu2_2", "relu3_4", "relu4_4", "relu5_4")
#: the first relu of each block: pix2pixHD's VGGLoss (``features[0:30]`` cut into five
#: slices), which the origin's perceptual loss uses (:mod:`neutex.bench.origin`).
PIX2PIXHD_VGG_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
#: pix2pixHD's (and the origin's) per-layer weights, shallow to deep; neutex uses them with its layers.
PIX2PIXHD_VGG_WEIGHTS: tuple[float, ...] = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
