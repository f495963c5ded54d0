"""The training engine: the train configuration's parser and checks, and one run as a function.

Modules, datamodules and callbacks feed it; ``attnlab train``, study cells and sweep trials use it.
It never imports the command-line package above it (a test walks the imports).
"""

from attnlab.training.config import DEFAULT_ROOT, AttnlabCLI, overrides_to_args, validate_train_args
from attnlab.training.run import TrainResult, format_summary, run_training

__all__ = [
    "DEFAULT_ROOT",
    "AttnlabCLI",
    "TrainResult",
    "format_summary",
    "overrides_to_args",
    "run_training",
    "validate_train_args",
]
