"""attnlab.ablations."""
