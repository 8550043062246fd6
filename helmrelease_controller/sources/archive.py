"""Reading a packaged chart (.tgz): Chart.yaml and values.yaml, with Helm's limits. Blocking; run in a thread.

Values are parsed by the one values loader (valuesyaml.py), as Helm reads them: go-yaml scalars, then
JSON (dates stay strings), so parsed values are always JSON-serializable.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..valuesyaml import load_values
from ..yamlmap import NotAMapping, yaml_mapping

__all__ = ["ArchiveError", "ChartMeta", "StringLoader", "load_yaml", "read_chart_archive", "yaml_problem"]

# Helm's own limits for a chart archive (helm.sh/helm/v3/pkg/chart/loader).
MAX_DECOMPRESSED_CHART_SIZE = 100 * 1024 * 1024
MAX_DECOMPRESSED_FILE_SIZE = 5 * 1024 * 1024

# For Chart.yaml and index.yaml: every scalar a string, as Go's typed structs read them
# (`version: 1.10` is "1.10", not the float 1.1).
StringLoader: type = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


class ArchiveError(ValueError):
    """The bytes are not a usable chart archive; the message says why (one line)."""


@dataclass(frozen=True)
class ChartMeta:
    name: str
    version: str
    app_version: str = ""
    values: dict[str, Any] = field(default_factory=dict, repr=False)


def load_yaml(text: str | bytes) -> Any:
    """Parse a chart's values.yaml as Helm does: the one values loader (valuesyaml.py)."""
    return load_values(text)


def yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{problem} (line {mark.line + 1})" if mark is not None else str(problem)


def read_chart_archive(data: bytes) -> ChartMeta:
    """Chart name, version, appVersion and default values from a chart archive's bytes.

    Raises ArchiveError when the bytes are not a gzip'd tar, hold no `<chart>/Chart.yaml`, exceed Helm's
    size limits, or carry Chart.yaml / values.yaml that is not a YAML mapping.
    """
    files = _top_files(data)
    chart_yaml = files.get("Chart.yaml")
    if chart_yaml is None:
        raise ArchiveError("not a valid chart archive: no Chart.yaml in its top directory")
    try:
        chart = yaml.load(chart_yaml, Loader=StringLoader)
    except yaml.YAMLError as exc:
        raise ArchiveError(f"Chart.yaml is not valid YAML: {yaml_problem(exc)}") from None
    if not isinstance(chart, dict) or not chart.get("name") or not chart.get("version"):
        raise ArchiveError("Chart.yaml has no name or version")
    return ChartMeta(
        name=str(chart["name"]),
        version=str(chart["version"]),
        app_version=str(chart.get("appVersion") or ""),
        values=_values(files.get("values.yaml")),
    )


def _values(values_yaml: bytes | None) -> dict[str, Any]:
    """The chart's default values: {} when values.yaml is absent, blank or null."""
    if values_yaml is None or not values_yaml.strip():
        return {}
    try:
        return yaml_mapping(values_yaml, load_yaml)
    except yaml.YAMLError as exc:
        raise ArchiveError(f"values.yaml is not valid YAML: {yaml_problem(exc)}") from None
    except NotAMapping as exc:
        raise ArchiveError(f"values.yaml is a {exc}, not a map") from None


def _top_files(data: bytes) -> dict[str, bytes]:
    """Chart.yaml and values.yaml of the archive's top directory (those present), within Helm's limits."""
    files: dict[str, bytes] = {}
    top: str | None = None
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                parts = [p for p in member.name.replace("\\", "/").split("/") if p not in ("", ".")]
                if not parts:
                    continue
                if top is None:
                    top = parts[0]
                total += max(member.size, 0)
                if total > MAX_DECOMPRESSED_CHART_SIZE:
                    raise ArchiveError(
                        f"archive expands to more than {MAX_DECOMPRESSED_CHART_SIZE >> 20} MiB"
                    )
                if not member.isfile() or len(parts) != 2 or parts[0] != top:
                    continue
                if parts[1] not in ("Chart.yaml", "values.yaml"):
                    continue
                if member.size > MAX_DECOMPRESSED_FILE_SIZE:
                    raise ArchiveError(f"{parts[1]} is larger than {MAX_DECOMPRESSED_FILE_SIZE >> 20} MiB")
                f = tar.extractfile(member)
                files[parts[1]] = f.read() if f is not None else b""
    except ArchiveError:
        raise
    except (tarfile.TarError, gzip.BadGzipFile, zlib.error, EOFError, OSError) as exc:
        raise ArchiveError(f"not a valid chart archive (.tgz): {exc or type(exc).__name__}") from None
    return files
