"""Pure numerics beneath ablations and reports (numpy, scipy, pyDOE; no torch, no Optuna).

Study planning and reporting call the same functions here, so a design's effects are planned and
reported by one set of rules.
"""
