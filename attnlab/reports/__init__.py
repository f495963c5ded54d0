"""attnlab.reports."""
