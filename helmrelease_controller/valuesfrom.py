"""`spec.valuesFrom` and `spec.values`: the user-supplied values of one HelmRelease, read from the cluster.

Each `valuesFrom` entry (ConfigMap or Secret, `valuesKey` default `values.yaml`,
optional `targetPath`, `optional`) is merged in list order, then `spec.values` on
top, with Helm's merge semantics (values.py); each document is read as Helm reads values
(valuesyaml.py: YAML 1.1 scalars, converted to JSON, so `2024-01-01` stays a string).
Returns the values and the secret strings in them (from Secrets), so error messages can
be redacted; :func:`read_user_values` also says which paths a Secret set
(`UserValues.secret_paths`, paths as valuepaths.py has them): every leaf of a Secret's
document, or the `targetPath` (cut at a list index, plus anything a `,` in its value sets) of a
Secret entry with one, even where a later source overrides it, so that a diff of values can mask
them whatever their old or new value (reconcile/changes.py). A missing non-optional reference,
unparseable YAML or YAML that JSON cannot hold (`.nan`, a `null` key) is a `ValuesError` with one
line saying which object and key; the content itself never appears in it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import yaml

from . import values as valuesmod
from .kube.client import CONFIGMAPS, SECRETS, KubeClient
from .kube.client import NotFound as KubeNotFound
from .redact import secret_strings
from .valuepaths import KeyPath, leaves
from .valuesyaml import ValuesYAMLError, json_problem, load_values

ValuesError = valuesmod.ValuesError  # one line, never the value itself


@dataclass(frozen=True)
class UserValues:
    """The user values of one HelmRelease and what of them is secret."""

    values: dict[str, Any]
    secrets: set[str]  # the secret strings (redaction)
    secret_paths: frozenset[KeyPath] = frozenset()  # the paths a Secret set (valuepaths.py)


async def resolve_values(
    client: KubeClient, hr: Any, chart_files: list[dict[str, Any]] | None = None
) -> tuple[dict[str, Any], set[str]]:
    """User values: the chart's valuesFiles, then each valuesFrom entry, then spec.values; and the
    secret strings among them."""
    got = await read_user_values(client, hr, chart_files)
    return got.values, got.secrets


async def read_user_values(
    client: KubeClient, hr: Any, chart_files: list[dict[str, Any]] | None = None
) -> UserValues:
    """As :func:`resolve_values`, and which paths came from Secrets."""
    sources: list[dict[str, Any] | valuesmod.PathValue] = list(chart_files or [])
    from_secrets: list[dict[str, Any] | valuesmod.PathValue] = []
    for ref in hr.spec.values_from:
        source = await _read_source(client, hr.namespace, ref)
        if source is None:
            continue
        sources.append(source)
        if ref.kind == "Secret":
            from_secrets.append(source)
    try:
        values = valuesmod.user_values(sources, dict(hr.spec.values or {}))
        return UserValues(values, secret_strings_of(from_secrets), secret_paths(from_secrets))
    except ValuesError as e:
        raise ValuesError(f"valuesFrom: {e}") from None


async def _read_source(
    client: KubeClient, namespace: str, ref: Any
) -> dict[str, Any] | valuesmod.PathValue | None:
    """One valuesFrom entry as a source of values.py (None: optional and absent)."""
    res = SECRETS if ref.kind == "Secret" else CONFIGMAPS
    where = f"{ref.kind} {namespace}/{ref.name}"
    try:
        obj = await client.get(res, namespace, ref.name)
    except KubeNotFound:
        if ref.optional:
            return None
        raise ValuesError(f"valuesFrom: {where} not found") from None
    data = obj.get("data") or {}
    if ref.values_key not in data:
        if ref.optional:
            return None
        raise ValuesError(f"valuesFrom: key {ref.values_key!r} not found in {where}")
    raw = data[ref.values_key]
    if ref.kind == "Secret":
        try:
            raw = base64.b64decode(raw).decode()
        except (ValueError, UnicodeDecodeError):
            raise ValuesError(f"valuesFrom: key {ref.values_key!r} of {where} is not valid UTF-8") from None
    if ref.target_path:
        return valuesmod.PathValue(ref.target_path, raw)
    try:
        parsed = load_values(raw) if raw.strip() else {}
    except ValuesYAMLError as e:
        raise ValuesError(f"valuesFrom: key {ref.values_key!r} of {where} {json_problem(e)}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValuesError(f"valuesFrom: key {ref.values_key!r} of {where} is not valid YAML{at}") from None
    if not isinstance(parsed, dict):
        raise ValuesError(f"valuesFrom: key {ref.values_key!r} of {where} is not a YAML map")
    return parsed


def secret_strings_of(from_secrets: list[dict[str, Any] | valuesmod.PathValue]) -> set[str]:
    """The secret strings: each scalar leaf of what a Secret sets, and a targetPath entry's raw
    value too (as written: `'0123'` gives `'0123'` and `0123`)."""
    out: set[str] = set()
    for source in from_secrets:
        if isinstance(source, valuesmod.PathValue) and isinstance(source.value, str):
            out.add(source.value)
        out |= secret_strings(_alone(source))
    return out


def secret_paths(from_secrets: list[dict[str, Any] | valuesmod.PathValue]) -> frozenset[KeyPath]:
    """The paths the Secrets set: each leaf of a document; for a targetPath, the leaves of what
    setting it alone gives (the path, cut at a list index; and whatever a `,` in the value sets)."""
    return frozenset(path for source in from_secrets for path in leaves(_alone(source)))


def _alone(source: dict[str, Any] | valuesmod.PathValue) -> dict[str, Any]:
    """What one source sets on its own (a targetPath: its value read as `helm --set` reads it)."""
    if isinstance(source, valuesmod.PathValue):
        return valuesmod.set_path({}, source.path, source.value)
    return source
