"""Values files shipped inside a chart (`spec.chart.<source>.valuesFiles`), read from the resolved chart.

A resolved chart is a directory (git) or a `.tgz` archive (repository, OCI) whose members live
under `<chart name>/`. Files are read in a thread, parsed as Helm parses values (valuesyaml.py),
and returned in order;
a missing or unparseable file is a one-line `ValuesError` naming the file, never its content.
"""

from __future__ import annotations

import asyncio
import tarfile
from pathlib import Path
from typing import Any

import yaml

from .values import ValuesError
from .valuesyaml import ValuesYAMLError, json_problem, load_values

MAX_FILE_BYTES = 5 * 1024 * 1024


def _read(chart_path: Path, chart_name: str, rel: str) -> bytes | None:
    if chart_path.is_dir():
        f = chart_path / rel
        return f.read_bytes() if f.is_file() else None
    with tarfile.open(chart_path, "r:gz") as tar:
        for member in tar.getmembers():
            parts = member.name.split("/", 1)
            if len(parts) == 2 and parts[1] == rel and member.isfile() and member.size <= MAX_FILE_BYTES:
                data = tar.extractfile(member)
                return data.read() if data is not None else None
    return None


def _load(chart_path: Path, chart_name: str, files: list[str], where: str) -> list[dict[str, Any]]:
    out = []
    for rel in files:
        raw = _read(chart_path, chart_name, rel)
        if raw is None:
            raise ValuesError(f"valuesFiles: {rel} not found in chart {where}")
        try:
            parsed = load_values(raw) or {}
        except ValuesYAMLError as e:
            raise ValuesError(f"valuesFiles: {rel} in chart {where} {json_problem(e)}") from None
        except yaml.YAMLError:
            raise ValuesError(f"valuesFiles: {rel} in chart {where} is not valid YAML") from None
        if not isinstance(parsed, dict):
            raise ValuesError(f"valuesFiles: {rel} in chart {where} is not a YAML map")
        out.append(parsed)
    return out


async def read_values_files(chart: Any, files: list[str]) -> list[dict[str, Any]]:
    """The parsed values files of `chart` (a ResolvedChart), in the order given."""
    if not files:
        return []
    where = f"{chart.name}@{chart.version}"
    return await asyncio.to_thread(_load, Path(chart.path), chart.name, list(files), where)
