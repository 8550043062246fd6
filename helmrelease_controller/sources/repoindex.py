"""Helm chart repository indexes, pure (no I/O): where index.yaml and chart archives live, and what it says.

`index_url` and `chart_download_url` build the URLs of a repository's index and of a chart archive listed
in it; `parse_index` turns index.yaml (or its JSON form) into a `RepositoryIndex` of `IndexEntry`s, and
`RepositoryIndex.select` picks the chart version Helm would pick for an exact version or a semver range.
Fetching and caching are `repository.RepositorySource`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

import yaml

from .archive import StringLoader, yaml_problem
from .base import SourceError
from .semver import Range, Version, VersionError

__all__ = ["IndexEntry", "RepositoryIndex", "chart_download_url", "index_url", "parse_index"]

_SHA256_HEX = re.compile(r"^(?:sha256:)?([0-9a-fA-F]{64})$")


# --- URLs ------------------------------------------------------------------------------------------


def index_url(repo_url: str) -> str:
    return repo_url.rstrip("/") + "/index.yaml"


def chart_download_url(repo_url: str, ref: str) -> str:
    """An index entry URL made absolute: relative ones are relative to the repository URL (a directory)."""
    return urljoin(repo_url.rstrip("/") + "/", ref.strip())


# --- index -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexEntry:
    """One chart version listed in an index."""

    name: str
    version: str
    urls: tuple[str, ...] = ()
    digest: str = ""  # lowercase sha256 hex of the archive; "" when the index gives none (or not sha256)
    app_version: str = ""


class RepositoryIndex:
    """A parsed index.yaml: chart name -> versions. Sorting is done once per chart, on first use."""

    def __init__(self, entries: Mapping[str, Sequence[IndexEntry]]) -> None:
        self.entries: dict[str, tuple[IndexEntry, ...]] = {name: tuple(es) for name, es in entries.items()}
        self._sorted: dict[str, list[tuple[Version, IndexEntry]]] = {}

    def names(self) -> list[str]:
        return sorted(self.entries)

    def versions(self, name: str) -> list[tuple[Version, IndexEntry]]:
        """Entries of `name` with a valid semantic version, newest first (Helm skips invalid ones too)."""
        cached = self._sorted.get(name)
        if cached is None:
            parsed = []
            for entry in self.entries.get(name, ()):
                v = Version.try_parse(entry.version)
                if v is not None:
                    parsed.append((v, entry))
            parsed.sort(key=lambda p: p[0], reverse=True)  # stable: first listed wins among equals
            cached = self._sorted[name] = parsed
        return cached

    def select(self, name: str, version: str | Range = "*", *, where: str = "index.yaml") -> IndexEntry:
        """The entry Helm would pick for `name` and `version` (exact or range); SourceError if none."""
        entries = self.entries.get(name)
        if not entries:
            names = self.names()
            if not names:
                hint = "the index lists no charts"
            else:
                more = f" and {len(names) - 5} more" if len(names) > 5 else ""
                hint = "it has " + ", ".join(names[:5]) + more
            raise SourceError(f"chart {name} not found in {where} ({hint})")
        try:
            rng = version if isinstance(version, Range) else Range.parse(version)
        except VersionError:
            raise SourceError(f"chart {name}: invalid version or range {str(version)!r}") from None
        if rng.text:
            for entry in entries:  # Helm's exact-match shortcut (also for non-semver version strings)
                if entry.version == rng.text:
                    return entry
        ordered = self.versions(name)
        for v, entry in ordered:
            if rng.allows(v):
                return entry
        stable = [e for v, e in ordered if not v.prerelease]
        if stable:
            hint = f"newest: {stable[0].version}"
        elif ordered:
            hint = f"only pre-releases, newest: {ordered[0][1].version}"
        else:
            hint = "no valid semantic versions listed"
        raise SourceError(f"chart {name} version {rng} not found in {where} ({hint})")


def parse_index(data: bytes | str, where: str = "index.yaml") -> RepositoryIndex:
    """Parse index.yaml (or its JSON form); SourceError when it is not a Helm repository index.

    Entries without a version are skipped, as Helm skips invalid entries. Blocking for large indexes:
    run it in a thread.
    """
    try:
        doc = yaml.load(data, Loader=StringLoader)
    except yaml.YAMLError as exc:
        raise SourceError(f"{where} is not valid YAML: {yaml_problem(exc)}") from None
    if not isinstance(doc, dict):
        kind = "empty" if doc is None or doc == "" else f"a {type(doc).__name__}, not a map"
        raise SourceError(f"{where} is not a Helm repository index ({kind})")
    if not doc.get("apiVersion"):
        raise SourceError(f"{where} is not a Helm repository index (no apiVersion)")
    raw_entries = doc.get("entries") or {}
    if not isinstance(raw_entries, dict):
        raise SourceError(f"{where} is not a Helm repository index (entries is not a map)")
    entries: dict[str, list[IndexEntry]] = {}
    for name, versions in raw_entries.items():
        if not isinstance(versions, list):
            continue
        out = entries.setdefault(str(name), [])
        for item in versions:
            if not isinstance(item, dict) or not isinstance(item.get("version"), str) or not item["version"]:
                continue
            urls = item.get("urls")
            url_list = (
                tuple(u for u in urls if isinstance(u, str) and u.strip()) if isinstance(urls, list) else ()
            )
            m = _SHA256_HEX.match(str(item.get("digest") or "").strip())
            app_version = item.get("appVersion")
            out.append(
                IndexEntry(
                    name=str(item.get("name") or name),
                    version=item["version"],
                    urls=url_list,
                    digest=m.group(1).lower() if m else "",
                    app_version=app_version if isinstance(app_version, str) else "",
                )
            )
    return RepositoryIndex(entries)
