"""attnlab.modules."""
