"""`spec.valuesFrom` and `spec.values`: the user-supplied values of one HelmRelease, read from the cluster.

Each `valuesFrom` entry (ConfigMap or Secret, `valuesKey` default `values.yaml`,
optional `targetPath`, `optional`) is merged in list order, then `spec.values` on
top, with Helm's merge semantics (values.py); each document is read as Helm reads values
(valuesyaml.py: YAML 1.1 scalars, converted to JSON, so `2024-01-01` stays a string).
Returns the values and the secret strings in them (from Secrets), so error messages can
be redacted. A missing non-optional reference, unparseable YAML or YAML that JSON cannot
hold (`.nan`, a `null` key) is a `ValuesError` with one line saying which object and key;
the content itself never appears in it.
"""

from __future__ import annotations

import base64
from typing import Any

import yaml

from . import values as valuesmod
from .kube.client import CONFIGMAPS, SECRETS, KubeClient
from .kube.client import NotFound as KubeNotFound
from .redact import secret_strings
from .valuesyaml import ValuesYAMLError, json_problem, load_values

ValuesError = valuesmod.ValuesError  # one line, never the value itself


async def resolve_values(
    client: KubeClient, hr: Any, chart_files: list[dict[str, Any]] | None = None
) -> tuple[dict[str, Any], set[str]]:
    """User values: the chart's valuesFiles, then each valuesFrom entry, then spec.values."""
    sources: list[dict[str, Any] | valuesmod.PathValue] = list(chart_files or [])
    secrets: set[str] = set()
    for ref in hr.spec.values_from:
        res = SECRETS if ref.kind == "Secret" else CONFIGMAPS
        where = f"{ref.kind} {hr.namespace}/{ref.name}"
        try:
            obj = await client.get(res, hr.namespace, ref.name)
        except KubeNotFound:
            if ref.optional:
                continue
            raise ValuesError(f"valuesFrom: {where} not found") from None
        data = obj.get("data") or {}
        if ref.values_key not in data:
            if ref.optional:
                continue
            raise ValuesError(f"valuesFrom: key {ref.values_key!r} not found in {where}")
        raw = data[ref.values_key]
        if ref.kind == "Secret":
            try:
                raw = base64.b64decode(raw).decode()
            except (ValueError, UnicodeDecodeError):
                raise ValuesError(
                    f"valuesFrom: key {ref.values_key!r} of {where} is not valid UTF-8"
                ) from None
        if ref.target_path:
            if ref.kind == "Secret":
                secrets.add(raw)
            sources.append(valuesmod.PathValue(ref.target_path, raw))
            continue
        try:
            parsed = load_values(raw) if raw.strip() else {}
        except ValuesYAMLError as e:
            raise ValuesError(f"valuesFrom: key {ref.values_key!r} of {where} {json_problem(e)}") from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            at = f" (line {mark.line + 1})" if mark is not None else ""
            raise ValuesError(
                f"valuesFrom: key {ref.values_key!r} of {where} is not valid YAML{at}"
            ) from None
        if not isinstance(parsed, dict):
            raise ValuesError(f"valuesFrom: key {ref.values_key!r} of {where} is not a YAML map")
        if ref.kind == "Secret":
            secrets |= secret_strings(parsed)
        sources.append(parsed)
    try:
        return valuesmod.user_values(sources, dict(hr.spec.values or {})), secrets
    except ValuesError as e:
        raise ValuesError(f"valuesFrom: {e}") from None
