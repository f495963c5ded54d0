"""``python -m attnlab`` is the ``attnlab`` command."""

import sys

from .cli.main import main

sys.exit(main())
