"""The HelmRelease API: spec and status models, durations and the generated CRD. Pure.

Import from here: `from helmrelease_controller.api import HelmRelease, SpecError, parse_duration`.
What this package exports is models.py's `__all__` (its one list) and the duration helpers.
"""

from helmrelease_controller.api import models
from helmrelease_controller.api.durations import DURATION_PATTERN, format_duration, parse_duration
from helmrelease_controller.api.models import *  # noqa: F403 (exactly models.__all__)

__all__ = ["DURATION_PATTERN", "format_duration", "parse_duration"]
__all__ += models.__all__
