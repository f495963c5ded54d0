"""Grad-CAM of a trained classifier at a named stage, through captum's ``LayerGradCam``.

captum is the maintained attribution library of the PyTorch project and needs no torchvision; its
``LayerGradCam`` is Selvaraju et al.'s map: ReLU(Σ_k α_k A_k) with α_k the spatial mean of ∂y_c/∂A_k.
The map is upsampled (bilinear) to the input so it can be laid over the image and scored against boxes.
"""

from __future__ import annotations

import torch
from captum.attr import LayerAttribution, LayerGradCam
from torch import Tensor, nn

from attnlab.errors import ConfigError


def stage_names(network: nn.Module) -> list[str]:
    """The network's top-level parts (``layer1`` … ``layer4`` for a ResNet): what ``--layer`` names first."""
    return [name for name, _ in network.named_children()]


def last_stage(network: nn.Module, inputs: Tensor) -> str:
    """The last top-level part whose output is still a spatial map (N×C×H×W with H·W > 1)."""
    shapes: dict[str, torch.Size] = {}
    hooks = [
        child.register_forward_hook(lambda _m, _i, output, name=name: shapes.__setitem__(name, output.shape))
        for name, child in network.named_children()
    ]
    try:
        with torch.no_grad():
            network(inputs[:1])
    finally:
        for hook in hooks:
            hook.remove()
    spatial = [name for name, shape in shapes.items() if len(shape) == 4 and shape[2] * shape[3] > 1]
    if not spatial:
        raise ConfigError(f"--layer: {type(network).__name__} has no part with a spatial output to explain")
    return spatial[-1]


def named_layer(network: nn.Module, name: str) -> nn.Module:
    """The module ``name`` (dotted, e.g. ``layer3`` or ``layer3.1``) of ``network``."""
    modules = dict(network.named_modules())
    if not name or name not in modules:
        raise ConfigError(f"--layer: {name!r} is not a part of the network; stages: {', '.join(stage_names(network))}")
    return modules[name]


def grad_cam(model: nn.Module, layer: nn.Module, inputs: Tensor, targets: Tensor) -> Tensor:
    """N×H×W Grad-CAM maps (≥ 0) of class ``targets`` at ``layer``, upsampled to the inputs' H×W."""
    maps = LayerGradCam(model, layer).attribute(inputs, target=targets, relu_attributions=True)
    return LayerAttribution.interpolate(maps.detach(), tuple(inputs.shape[-2:]), "bilinear")[:, 0]
