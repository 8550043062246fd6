"""Flux HelmReleases into helmrelease.dev/v1 HelmReleases (`helmrelease-controller convert`). Pure.

Owns the field mapping from Flux v1 (`helm.fluxcd.io/v1`, helm-operator) and Flux v2
(`helm.toolkit.fluxcd.io/v2`, v2beta1, v2beta2) to our API (api/models.py), and nothing else:
reading files and writing YAML is the CLI's (fluxconvert_cli.py). docs/migrating-from-flux.md
explains every row of the tables.

`convert(docs)` takes parsed YAML documents and returns the documents to emit plus warning lines.
A v2 chart source (`spec.chart.spec.sourceRef`, `spec.chartRef`) is resolved against the
HelmRepository, GitRepository, OCIRepository and HelmChart documents of the same input into an
inline `spec.chart.git/repository/oci`; consumed sources are not emitted. Every input field is
covered by a rule: mapped (`Move`), dropped with one warning line (`Drop`, silent only when the
value means what our controller does anyway) or built by a function (`HANDLED`); a field no rule
knows is dropped with a warning too, so nothing disappears silently. A field our controller
refuses today (api/models.py `unsupported()`) is never emitted. An object that cannot be converted
(unresolvable source, invalid result) is not emitted: a warning names why and `failed` counts it.

This module is the documents level (`convert`: List items, routing, pass-through, validation of the
result, the source report); the rest is split by what it owns: rules.py (rule kinds, result types,
`apply_rules`), v2.py (Flux v2 table and HelmRelease), sources.py (Flux v2 sources into our inline
chart), v1.py (Flux v1, helm-operator).
"""

from __future__ import annotations

import copy
from typing import Any

from ..api.models import API_VERSION, KIND, HelmRelease, HelmReleaseSpec, SpecError
from ..kube.sharding import from_flux_labels
from .rules import (
    HANDLED,
    NO_EQUIVALENT,
    Converted,
    Drop,
    Move,
    Result,
    Rule,
    Unconvertible,
    apply_rules,
    ident,
)
from .sources import SOURCE_RULES, ChartResult, Sources, index_sources, is_source, resolve_chart
from .v1 import V1_API, V1_RULES, convert_v1
from .v2 import V2_APIS, V2_RULES, convert_v2

__all__ = [
    "HANDLED",
    "NO_EQUIVALENT",
    "SOURCE_RULES",
    "V1_API",
    "V1_RULES",
    "V2_APIS",
    "V2_RULES",
    "ChartResult",
    "Converted",
    "Drop",
    "Move",
    "Result",
    "Rule",
    "Unconvertible",
    "apply_rules",
    "convert",
    "convert_v1",
    "convert_v2",
    "ident",
    "resolve_chart",
]

_DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def _metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """name, namespace, labels and annotations; what the API server wrote (uid, ...) is left out."""
    out = {k: copy.deepcopy(meta[k]) for k in ("name", "namespace", "labels") if meta.get(k)}
    if "labels" in out:  # Flux's sharding.fluxcd.io/key is our helmrelease.dev/shard (docs/sharding.md)
        out["labels"] = from_flux_labels(out["labels"])
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in _DROPPED_ANNOTATIONS}
    if annotations:
        out["annotations"] = annotations
    return out


def _flatten(docs: list[Any]) -> list[Any]:
    """Documents, with the items of a `kind: List` in its place and empty documents left out."""
    out: list[Any] = []
    for doc in docs:
        if (
            isinstance(doc, dict)
            and doc.get("kind", "").endswith("List")
            and isinstance(doc.get("items"), list)
        ):
            out += _flatten(doc["items"])
        elif doc is not None:
            out.append(doc)
    return out


def _finish(hr: dict[str, Any], spec: dict[str, Any], comments: list[str], result: Result) -> bool:
    """Emit the converted object if our models accept it (as the controller would); else a warning."""
    order = [f.alias or n for n, f in HelmReleaseSpec.model_fields.items()]
    spec = dict(sorted(spec.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
    obj = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": _metadata(hr.get("metadata") or {}),
        "spec": spec,
    }
    try:
        HelmRelease.from_obj(obj)
    except SpecError as e:
        result.warnings.append(f"{ident(hr)}: cannot be converted: {e}")
        result.failed += 1
        return False
    result.documents.append(Converted(obj, comments))
    return True


def _convert_hr(
    doc: dict[str, Any], sources: Sources, consumed: dict[tuple[str, str, str], list[str]], result: Result
) -> None:
    what, api = ident(doc), doc.get("apiVersion")
    try:
        if api == V1_API:
            spec, warnings = convert_v1(doc)
            used: list[tuple[str, str, str]] = []
        else:
            spec, warnings, chart = convert_v2(doc, sources)
            used = chart.used
    except (Unconvertible, KeyError, TypeError, AttributeError, ValueError) as e:
        reason = str(e) if isinstance(e, Unconvertible) else f"malformed input ({type(e).__name__}: {e})"
        result.warnings.append(f"{what}: cannot be converted: {reason}")
        result.failed += 1
        return
    result.warnings += warnings
    comments = [f"converted from {api} by helmrelease-controller convert"]
    comments += [f"chart source inlined from {k} {ns}/{n}" for k, ns, n in used]
    if _finish(doc, spec, comments, result):
        for key in used:
            consumed.setdefault(key, []).append(what)


def _report_sources(
    sources: Sources, consumed: dict[tuple[str, str, str], list[str]], result: Result
) -> None:
    """One line per source document: inlined into which HelmReleases (plus its dropped fields), or unused."""
    for key, doc in sources.items():
        what = ident(doc, key[0].lower())
        users = consumed.get(key)
        if not users:
            result.warnings.append(f"{what}: not used by any converted HelmRelease (not emitted)")
            continue
        result.warnings.append(f"{what}: inlined into {', '.join(users)} (not emitted)")
        rules = SOURCE_RULES.get(key[0], {})
        result.warnings += apply_rules(doc.get("spec") or {}, rules, what)[1]


def convert(docs: list[Any]) -> Result:
    """Convert the Flux HelmReleases among `docs`; other Kubernetes documents pass through unchanged."""
    result = Result()
    docs = _flatten(docs)
    sources = index_sources(docs)
    consumed: dict[tuple[str, str, str], list[str]] = {}
    for doc in docs:
        if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind"):
            result.warnings.append("a document without apiVersion and kind cannot be converted")
            result.failed += 1
        elif doc.get("kind") == "HelmRelease" and doc["apiVersion"] in (V1_API, *V2_APIS):
            _convert_hr(doc, sources, consumed, result)
        elif doc.get("kind") == "HelmRelease" and "fluxcd.io/" in str(doc["apiVersion"]):
            result.warnings.append(
                f"{ident(doc)}: cannot be converted: {doc['apiVersion']} is not a Flux version known here"
            )
            result.failed += 1
        elif is_source(doc):
            continue  # reported by _report_sources
        elif "fluxcd.io/" in str(doc["apiVersion"]):
            result.warnings.append(
                f"{ident(doc, str(doc['kind']).lower())}: {doc['apiVersion']} {doc['kind']} "
                f"{NO_EQUIVALENT} (not emitted)"
            )
        else:
            result.documents.append(Converted(doc))
    _report_sources(sources, consumed, result)
    return result
