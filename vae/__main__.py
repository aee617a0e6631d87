"""`python -m vae ...`: see vae/cli/__init__.py."""

import sys

from .cli import main

sys.exit(main())
