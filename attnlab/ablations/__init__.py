"""Ablation studies: study files (rows × seeds of a paper-like table), built-in studies and profiles.

``load_study`` reads and checks a study file, ``validate_study`` checks each row's train config
against a profile, and ``StudyDefinition.cells`` lists the trainings the sweeps run.
"""

from attnlab.ablations.definition import METRIC_DIRECTIONS, PAPER_COLUMNS, Cell, RowSpec, StudyDefinition
from attnlab.ablations.options import add_profile_options
from attnlab.ablations.overrides import parse_set_options
from attnlab.ablations.registry import (
    DEFAULT_PROFILE,
    builtin_profiles,
    builtin_studies,
    load_study,
    profile_description,
    profile_path,
)
from attnlab.ablations.validation import validate_study

__all__ = [
    "DEFAULT_PROFILE",
    "METRIC_DIRECTIONS",
    "PAPER_COLUMNS",
    "Cell",
    "RowSpec",
    "StudyDefinition",
    "add_profile_options",
    "builtin_profiles",
    "builtin_studies",
    "load_study",
    "parse_set_options",
    "profile_description",
    "profile_path",
    "validate_study",
]
