"""``python -m controlplane``: see ``controlplane.cli``."""

import sys

from controlplane.cli import main

sys.exit(main())
