"""``python -m telemetry`` runs the command line."""

import sys

from telemetry.cli import main

sys.exit(main())
