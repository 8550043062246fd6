"""Flux v2 chart sources resolved into our inline spec.chart (git, repository, oci). Pure.

Owns the source documents of the input: recognising and indexing them (HelmRepository,
GitRepository, OCIRepository, HelmChart), their rule tables (`SOURCE_RULES`, and the chart template
rules `TEMPLATE_RULES` that a HelmRelease's spec.chart.spec shares with a HelmChart), and
`resolve_chart`: a HelmRelease's `spec.chart.spec.sourceRef` or `spec.chartRef` looked up among them
and turned into our `spec.chart`, with its warning lines and the sources it consumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .rules import HANDLED, NO_EQUIVALENT, Drop, Rule, Unconvertible, get_path

SOURCE_GROUP = "source.toolkit.fluxcd.io/"
SOURCE_KINDS = ("HelmRepository", "GitRepository", "OCIRepository", "HelmChart", "Bucket")

# A chart template's fields: a HelmRelease's spec.chart.spec (V2_RULES) and a HelmChart's spec.
TEMPLATE_RULES: dict[str, Rule] = {
    "chart": HANDLED,
    "version": HANDLED,
    "sourceRef": HANDLED,
    "valuesFiles": HANDLED,
    "valuesFile": HANDLED,
    "reconcileStrategy": Drop("the chart is fetched again when its version changes", ("ChartVersion",)),
    "verify": Drop(
        "the chart will not be verified: Flux's cosign and notation (OCI charts) are not built here; "
        "a chart signed by helm package --sign can be: set chart.verify (provider helm) by hand"
    ),
    "ignoreMissingValuesFiles": Drop("a missing values file fails the reconcile", (False,)),
}
_SOURCE_INTERVAL = Drop("the HelmRelease's interval decides when the source is checked")
_SOURCE_TIMEOUT = Drop("the HelmRelease's spec.timeout covers fetching the chart")
_SOURCE_SUSPEND = Drop("suspend the HelmRelease instead", (False,))
_PROVIDER = Drop("cloud-provider login is not built: use secretRef", ("generic",))
_COMMON_SOURCE_RULES: dict[str, Rule] = {
    "url": HANDLED,
    "secretRef": HANDLED,
    "interval": _SOURCE_INTERVAL,
    "timeout": _SOURCE_TIMEOUT,
    "suspend": _SOURCE_SUSPEND,
    "provider": _PROVIDER,
    "accessFrom": Drop("sources are inline in each HelmRelease"),
    "proxySecretRef": Drop("the controller's own proxy environment is used"),
    "certSecretRef": Drop("put caFile, certFile and keyFile into the secretRef Secret"),
    "insecure": Drop("use the controller's --plain-http-registry flag", (False,)),
    "verify": Drop("the source will not be verified: cosign and notation are not built here"),
}
SOURCE_RULES: dict[str, dict[str, Rule]] = {
    "HelmRepository": {
        **_COMMON_SOURCE_RULES,
        "type": HANDLED,
        "passCredentials": Drop("credentials are only sent to the repository's own host", (False,)),
    },
    "GitRepository": {
        **_COMMON_SOURCE_RULES,
        "ref": HANDLED,
        "ignore": Drop("the whole chart directory is used"),
        "include": Drop("other repositories are not merged in"),
        "recurseSubmodules": Drop("submodules are not checked out", (False,)),
        "sparseCheckout": Drop("the whole repository is fetched"),
    },
    "OCIRepository": {
        **_COMMON_SOURCE_RULES,
        "ref": HANDLED,
        "layerSelector": Drop("the chart layer is used"),
        "ignore": Drop("the whole chart is used"),
        "serviceAccountName": Drop("use secretRef for registry credentials"),
    },
    "HelmChart": {**TEMPLATE_RULES, "interval": _SOURCE_INTERVAL, "suspend": _SOURCE_SUSPEND},
}

Sources = dict[tuple[str, str, str], dict[str, Any]]


def _key(kind: str, namespace: str, name: str) -> tuple[str, str, str]:
    return kind, namespace, name


def is_source(doc: dict[str, Any]) -> bool:
    """A Flux source document (HelmRepository, GitRepository, OCIRepository, HelmChart, Bucket)."""
    return str(doc.get("apiVersion", "")).startswith(SOURCE_GROUP) and doc.get("kind") in SOURCE_KINDS


def index_sources(docs: list[Any]) -> Sources:
    """The Flux source documents of the input by (kind, namespace, name)."""
    sources: Sources = {}
    for doc in docs:
        if isinstance(doc, dict) and is_source(doc):
            meta = doc.get("metadata") or {}
            sources[_key(doc["kind"], meta.get("namespace") or "default", str(meta.get("name")))] = doc
    return sources


@dataclass
class ChartResult:
    """A resolved chart: our spec.chart, warning lines, the sources it consumed."""

    chart: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    used: list[tuple[str, str, str]] = field(default_factory=list)


def _lookup(
    ref: Any, namespace: str, sources: Sources, kinds: tuple[str, ...], where: str
) -> tuple[dict[str, Any], tuple[str, str, str]]:
    """The source document `ref` names (kind, name, namespace defaulting to `namespace`)."""
    ref = ref if isinstance(ref, dict) else {}
    kind, name = ref.get("kind"), ref.get("name")
    if kind not in kinds:
        raise Unconvertible(f"{where}.kind {kind!r} cannot be converted (supported: {', '.join(kinds)})")
    key = _key(kind, ref.get("namespace") or namespace, str(name))
    if key not in sources:
        raise Unconvertible(
            f"{where}: {kind} {key[1]}/{name} is not in the input (convert it together with its sources)"
        )
    return sources[key], key


def _git_ref(ref: dict[str, Any]) -> dict[str, str]:
    """A GitRepository ref as ours, by Flux's precedence: commit, name, semver, tag, branch."""
    if ref.get("commit"):
        return {"commit": ref["commit"]}
    name = ref.get("name")
    if name:
        for prefix, kind in (("refs/heads/", "branch"), ("refs/tags/", "tag")):
            if name.startswith(prefix):
                return {kind: name.removeprefix(prefix)}
        raise Unconvertible(f"spec.ref.name {name!r} is neither refs/heads/... nor refs/tags/...")
    for kind in ("semver", "tag", "branch"):
        if ref.get(kind):
            return {kind: ref[kind]}
    return {"branch": "master"}  # Flux's default


def _from_helm_repository(
    spec: dict[str, Any], template: dict[str, Any]
) -> tuple[str, dict[str, Any], list[str]]:
    url, chart, version = str(spec.get("url", "")), template.get("chart"), template.get("version")
    if spec.get("type") == "oci" or url.startswith("oci://"):
        out: dict[str, Any] = {"url": f"{url.rstrip('/')}/{chart}"}
        if version not in (None, "", "*"):
            out["version"] = version
        return "oci", out, []
    out = {"url": url, "name": chart}
    if version:
        out["version"] = version
    return "repository", out, []


def _from_git_repository(
    spec: dict[str, Any], template: dict[str, Any]
) -> tuple[str, dict[str, Any], list[str]]:
    path = str(template.get("chart") or ".").removeprefix("./") or "."
    out = {"url": spec.get("url"), "ref": _git_ref(spec.get("ref") or {}), "path": path}
    warnings = []
    if template.get("version") not in (None, "", "*"):
        warnings.append(
            f"spec.chart.spec.version {NO_EQUIVALENT} for a chart from git (dropped: Flux ignores it too)"
        )
    return "git", out, warnings


def _from_oci_repository(spec: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
    """An OCIRepository (a chartRef) as our oci source: digest, else semver, else tag."""
    ref, warnings = spec.get("ref") or {}, []
    out: dict[str, Any] = {"url": spec.get("url")}
    if ref.get("digest"):
        out["digest"] = ref["digest"]
    elif ref.get("semver") or (ref.get("tag") and ref["tag"] != "latest"):
        out["version"] = ref.get("semver") or ref["tag"]
    else:
        warnings.append("spec.chartRef: the tag 'latest' has no equivalent (the highest semver tag is used)")
    if ref.get("semverFilter"):
        warnings.append(f"OCIRepository spec.ref.semverFilter {NO_EQUIVALENT} (dropped)")
    return "oci", out, warnings


_BUILDERS = {"HelmRepository": _from_helm_repository, "GitRepository": _from_git_repository}


def _with_secret(
    src: dict[str, Any], key: tuple[str, str, str], namespace: str, out: dict[str, Any]
) -> list[str]:
    """Copy the source's secretRef into `out`; a warning when the Secret lives in another namespace."""
    name = get_path(src, "spec.secretRef.name")
    if not name:
        return []
    out["secretRef"] = {"name": name}
    if key[1] == namespace:
        return []
    return [f"spec.chart: the {key[0]}'s Secret {key[1]}/{name} must be copied into namespace {namespace}"]


def _from_template(
    template: dict[str, Any], namespace: str, sources: Sources, hr_namespace: str
) -> ChartResult:
    """A Flux chart template (HelmRelease spec.chart.spec, or a HelmChart's spec: its sourceRef is
    looked up in `namespace`) as our spec.chart, for a HelmRelease in `hr_namespace`."""
    kinds = ("HelmRepository", "GitRepository")
    src, key = _lookup(template.get("sourceRef"), namespace, sources, kinds, "spec.chart.spec.sourceRef")
    kind, out, warnings = _BUILDERS[key[0]](src.get("spec") or {}, template)
    files = [template["valuesFile"]] if template.get("valuesFile") else []
    files += [f for f in template.get("valuesFiles") or [] if f not in files]
    if files:
        out["valuesFiles"] = [f.removeprefix("./") for f in files]
    warnings += _with_secret(src, key, hr_namespace, out)
    return ChartResult({kind: out}, warnings, [key])


def resolve_chart(spec: dict[str, Any], namespace: str, sources: Sources) -> ChartResult:
    """Our spec.chart for a Flux v2 spec: chartRef (OCIRepository, HelmChart) or chart.spec."""
    if spec.get("chartRef") is not None:
        kinds = ("OCIRepository", "HelmChart")
        src, key = _lookup(spec["chartRef"], namespace, sources, kinds, "spec.chartRef")
        if key[0] == "HelmChart":
            result = _from_template(src.get("spec") or {}, key[1], sources, namespace)
            result.used.append(key)
            return result
        kind, out, warnings = _from_oci_repository(src.get("spec") or {})
        warnings += _with_secret(src, key, namespace, out)
        return ChartResult({kind: out}, warnings, [key])
    template = get_path(spec, "chart.spec")
    if not isinstance(template, dict):
        raise Unconvertible("spec.chart.spec or spec.chartRef is required")
    return _from_template(template, namespace, sources, namespace)
