"""`python -m helmrelease_controller`: the same as the `helmrelease-controller` command."""

import sys

from .cli import main

sys.exit(main())
