"""``python -m aiinfn_hub`` runs the ``aiinfn-hub`` command."""

import sys

from .cli import main

sys.exit(main())
