"""`python -m casehub`: the `casehub` command (how `casehub up` starts its components)."""

import sys

from casehub.run.cli import main

sys.exit(main())
