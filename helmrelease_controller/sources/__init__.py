"""Chart sources: turn a HelmRelease's `spec.chart` into a local chart helm can install.

Every source implements `ChartSource.resolve(spec_chart, credentials, refresh=...) -> ResolvedChart`
and reports failures as `SourceError` (one line, credential-free). Available: `RepositorySource`
(HTTP(S) chart repositories with index.yaml).
"""

from .base import ChartSource, Credentials, ResolvedChart, SourceError, redact_url
from .repository import RepositoryChartSpec, RepositorySource
from .semver import Range, Version, VersionError

__all__ = [
    "ChartSource",
    "Credentials",
    "Range",
    "RepositoryChartSpec",
    "RepositorySource",
    "ResolvedChart",
    "SourceError",
    "Version",
    "VersionError",
    "redact_url",
]
