"""The attention family, the backbones and their cost: usable alone in any PyTorch CNN.

``from attnlab.modules import CBAM`` drops a block into a user's network; importing this package pulls in
``torch`` only (no Lightning, Optuna or W&B), so the modules cost nothing beyond themselves.
"""

from attnlab.modules.attention import BAM, CBAM, SE, Attention, build_attention
from attnlab.modules.backbones import BACKBONE_NAMES, BackboneConfig
from attnlab.modules.counting import CostLine, CostReport, count_cost, model_cost
from attnlab.modules.design import PRESET_SOURCES, PRESETS, AttentionDesign
from attnlab.modules.gates import BottleneckSpatialGate, ChannelGate, PooledSpatialGate, SpatialGate
from attnlab.modules.model import build_model

__all__ = [
    "BACKBONE_NAMES",
    "BAM",
    "CBAM",
    "PRESETS",
    "PRESET_SOURCES",
    "SE",
    "Attention",
    "AttentionDesign",
    "BackboneConfig",
    "BottleneckSpatialGate",
    "ChannelGate",
    "CostLine",
    "CostReport",
    "PooledSpatialGate",
    "SpatialGate",
    "build_attention",
    "build_model",
    "count_cost",
    "model_cost",
]
