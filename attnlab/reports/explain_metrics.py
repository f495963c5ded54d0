"""The names of the localisation scores ``attnlab explain`` measures per cell, shared by the report's table.

Kept apart from the scoring (which needs torch) so a report imports no torch. Per-cell columns are named
under the explained split (``test/cam_in_box``), so they aggregate over seeds like the logged metrics.
"""

from __future__ import annotations

LOCALISATION_METRICS: dict[str, str] = {"cam_in_box": "Grad-CAM in box (%)", "pointing_hit": "Pointing game (%)"}
LOCALISATION_DIRECTION = "maximize"  # a larger share inside the object is better
