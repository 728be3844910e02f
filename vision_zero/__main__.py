"""``python -m vision_zero`` runs the command line."""

import sys

from vision_zero.cli import main

sys.exit(main())
