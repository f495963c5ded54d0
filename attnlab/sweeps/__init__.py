"""attnlab.sweeps."""
