"""torchvision's weight init for the backbones, leaving the attention modules' own init untouched."""

from __future__ import annotations

from torch import nn

from attnlab.modules.attention import Attention


def init_backbone_weights(model: nn.Module, linear_std: float | None) -> None:
    """Convs kaiming-normal (fan_out), BN weight 1 / bias 0 (no zero-init of the last BN in a residual branch).

    ``linear_std`` is the normal std of Linear weights (VGG, MobileNet: 0.01); ``None`` keeps PyTorch's default
    (torchvision's ResNet). Attention modules keep the init they gave themselves (e.g. a zero spatial-BN scale).
    """
    in_attention = {id(sub) for module in model.modules() if isinstance(module, Attention) for sub in module.modules()}
    for module in model.modules():
        if id(module) in in_attention:
            continue
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear) and linear_std is not None:
            nn.init.normal_(module.weight, 0.0, linear_std)
            nn.init.zeros_(module.bias)
