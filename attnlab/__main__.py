"""``python -m attnlab`` is the ``attnlab`` command."""

import sys

from attnlab.cli.main import main

sys.exit(main())
