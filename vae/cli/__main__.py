"""`python -m vae.cli ...`, the same as `python -m vae ...`."""

import sys

from . import main

sys.exit(main())
