"""`python -m vae ...`: see vae/cli.py."""

import sys

from .cli import main

sys.exit(main())
