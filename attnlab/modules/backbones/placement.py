"""Where a backbone puts attention. Backbones only name their sites; the design decides which sites get a module.

Sites, per backbone (``placement``):

- ``block``: ResNet family, on the residual branch after the last BN, before ``out += identity`` (the papers and
  the released code); VGG, after every conv-BN-ReLU unit; MobileNet v1, after every depthwise-separable block.
- ``stage``: at the end of every stage the next layer downsamples, none after the last stage: ResNet after stages
  1-3 (BAM), VGG before each of its first four max-pools, MobileNet v1 before each of its four stride-2 blocks.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

from torch import nn

from attnlab.modules.attention import build_attention
from attnlab.modules.backbones.init import init_stream
from attnlab.modules.design import AttentionDesign


@dataclass(frozen=True)
class AttentionPlacer:
    """Hands each site of a backbone its attention module, or ``None`` where the design puts none.

    ``None`` (not ``nn.Identity``) keeps a ``none`` design's network exactly the plain backbone. With an
    ``init_seed`` the k-th module built draws its init from stream ``(init_seed, "attention", k)``.
    """

    design: AttentionDesign
    init_seed: int | None = None
    _sites: Iterator[int] = field(default_factory=itertools.count, init=False, repr=False, compare=False)

    def block(self, channels: int) -> nn.Module | None:
        """The module at a block site with ``channels`` channels, if the design places attention in blocks."""
        return self._at("block", channels)

    def after_stage(self, channels: int, *, last_stage: bool) -> list[nn.Module]:
        """The modules to append after a stage of ``channels`` channels: one, or none after the last stage."""
        module = None if last_stage else self._at("stage", channels)
        return [] if module is None else [module]

    def _at(self, placement: str, channels: int) -> nn.Module | None:
        if self.design.is_identity or self.design.placement != placement:
            return None
        with init_stream(self.init_seed, "attention", next(self._sites)):
            return build_attention(self.design, channels)
