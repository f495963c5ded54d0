"""attnlab.datamodules."""
