"""attnlab: ablation studies of convolutional attention (CBAM, BAM, SE and their design space)."""

__version__ = "0.1.0"
