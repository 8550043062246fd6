"""Flux HelmReleases into helmrelease.dev/v1 HelmReleases (`helmrelease-controller convert`). Pure.

Owns the field mapping from Flux v1 (`helm.fluxcd.io/v1`, helm-operator) and Flux v2
(`helm.toolkit.fluxcd.io/v2`, v2beta1, v2beta2) to our API (api/models.py), and nothing else:
reading files and writing YAML is the CLI's (fluxconvert_cli.py). docs/migrating-from-flux.md
explains every row of the tables below.

`convert(docs)` takes parsed YAML documents and returns the documents to emit plus warning lines.
A v2 chart source (`spec.chart.spec.sourceRef`, `spec.chartRef`) is resolved against the
HelmRepository, GitRepository, OCIRepository and HelmChart documents of the same input into an
inline `spec.chart.git/repository/oci`; consumed sources are not emitted. Every input field is
covered by a rule: mapped (`Move`), dropped with one warning line (`Drop`, silent only when the
value means what our controller does anyway) or built by a function (`HANDLED`); a field no rule
knows is dropped with a warning too, so nothing disappears silently. A field our controller
refuses today (api/models.py `unsupported()`) is never emitted. An object that cannot be converted
(unresolvable source, invalid result) is not emitted: a warning names why and `failed` counts it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..api.models import API_VERSION, KIND, HelmRelease, HelmReleaseSpec, SpecError

V1_API = "helm.fluxcd.io/v1"
V2_APIS = ("helm.toolkit.fluxcd.io/v2", "helm.toolkit.fluxcd.io/v2beta2", "helm.toolkit.fluxcd.io/v2beta1")
SOURCE_GROUP = "source.toolkit.fluxcd.io/"
SOURCE_KINDS = ("HelmRepository", "GitRepository", "OCIRepository", "HelmChart", "Bucket")
NO_EQUIVALENT = "has no equivalent in helmrelease.dev/v1"


class Unconvertible(Exception):
    """An object that cannot be converted; str() is the one-line reason."""


@dataclass(frozen=True)
class Move:
    """Copy the value to `to` (a dotted path of our spec) and to the paths in `also`, through `fn`;
    `fn` returning None sets nothing."""

    to: str
    fn: Callable[[Any], Any] = lambda v: v
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Drop:
    """No equivalent: dropped with a warning, unless the value is one of `same` (what we do anyway)."""

    why: str = ""
    same: tuple[Any, ...] = ()


HANDLED = object()  # built by a function of this module, not by the table
Rule = Move | Drop | object


@dataclass
class Converted:
    """One output document and the comment lines written above it."""

    obj: dict[str, Any]
    comments: list[str] = field(default_factory=list)


@dataclass
class Result:
    """What `convert` returns: documents to emit, warning lines, objects that could not be converted."""

    documents: list[Converted] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failed: int = 0


# --- small helpers ------------------------------------------------------------------------------


def _seconds(value: Any) -> str:
    """Flux v1 seconds (an integer) as a duration."""
    return f"{int(value)}s"


def _crds_skip(value: Any) -> str | None:
    return "Skip" if value else None


def _set(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _get(source: dict[str, Any], path: str, default: Any = None) -> Any:
    for part in path.split("."):
        if not isinstance(source, dict) or part not in source:
            return default
        source = source[part]
    return source


def _walk(obj: dict[str, Any], rules: dict[str, Rule], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of each field of `obj`: a field with a rule whole, else its sub-fields."""
    for key, value in obj.items():
        path = f"{prefix}{key}"
        if path not in rules and isinstance(value, dict) and value:
            yield from _walk(value, rules, path + ".")
        else:
            yield path, value


def apply_rules(
    obj: dict[str, Any], rules: dict[str, Rule], what: str, field_prefix: str = "spec."
) -> tuple[dict[str, Any], list[str]]:
    """`obj` through the `rules` table: our spec fields set by Move rules, and one warning line per
    dropped field (Drop rules whose value is not harmless, and fields no rule knows)."""
    out: dict[str, Any] = {}
    warnings: list[str] = []
    for path, value in _walk(obj, rules):
        rule = rules.get(path)
        if rule is HANDLED or value is None or (rule is None and value in ({}, [])):
            continue  # handled elsewhere, or nothing said
        if isinstance(rule, Move):
            mapped = rule.fn(value)
            for to in (rule.to, *rule.also) if mapped is not None else ():
                _set(out, to, copy.deepcopy(mapped))
        elif isinstance(rule, Drop):
            if value not in rule.same:
                reason = f"dropped: {rule.why}" if rule.why else "dropped"
                warnings.append(f"{what}: {field_prefix}{path} {NO_EQUIVALENT} ({reason})")
        else:
            warnings.append(f"{what}: {field_prefix}{path} is not known to the converter (dropped)")
    return out, warnings


def ident(obj: dict[str, Any], short: str = "hr") -> str:
    """`hr/<namespace>/<name>` (kubectl's namespace "default" when none is written)."""
    meta = obj.get("metadata") or {}
    return f"{short}/{meta.get('namespace') or 'default'}/{meta.get('name', '?')}"


def _key(kind: str, namespace: str, name: str) -> tuple[str, str, str]:
    return kind, namespace, name


# --- Flux v2: the table --------------------------------------------------------------------------

_ONE_TIMEOUT = "one spec.timeout covers every helm action; only rollback and uninstall have their own"
_NOT_BUILT = "our controller refuses it today (not built yet)"


def _crds(value: Any) -> str | None:
    return None if value == "CreateReplace" else value  # CreateReplace: warned by _refused()


V2_RULES: dict[str, Rule] = {
    "chart.spec.chart": HANDLED,
    "chart.spec.version": HANDLED,
    "chart.spec.sourceRef": HANDLED,
    "chart.spec.valuesFiles": HANDLED,
    "chart.spec.valuesFile": HANDLED,
    "chart.spec.reconcileStrategy": Drop(
        "the chart is fetched again when its version changes", ("ChartVersion",)
    ),
    "chart.spec.interval": Drop("the HelmRelease's interval decides when the chart is checked"),
    "chart.spec.verify": Drop("chart verification is not built yet (issue 16)"),
    "chart.spec.ignoreMissingValuesFiles": Drop("a missing values file fails the reconcile", (False,)),
    "chart.metadata": Drop("the chart is not a separate object here"),
    "chartRef": HANDLED,
    "interval": Move("interval"),
    "timeout": Move("timeout"),
    "releaseName": Move("releaseName"),
    "targetNamespace": Move("targetNamespace"),
    "storageNamespace": HANDLED,
    "dependsOn": HANDLED,
    "suspend": Move("suspend"),
    "values": Move("values"),
    "valuesFrom": HANDLED,
    "maxHistory": Move("maxHistory"),
    "serviceAccountName": Move("serviceAccountName"),
    "persistentClient": Drop("helm runs as a new process for each action"),
    "driftDetection": HANDLED,
    "postRenderers": Drop("post-renderers are not built yet (issue 16)", ([],)),
    "kubeConfig": Drop("releases go to the controller's own cluster (remote clusters: issue 16)"),
    "commonMetadata": Drop("common labels and annotations are not built yet (issue 16)"),
    "waitStrategy": Move("waitStrategy"),
    "install.createNamespace": Move("install.createNamespace"),
    "install.disableWait": Move("install.disableWait"),
    "install.crds": Move("install.crds", _crds),
    "install.skipCRDs": Move("install.crds", _crds_skip),
    "install.remediation.retries": Move("install.remediation.retries"),
    "install.remediation.ignoreTestFailures": Drop("use spec.test.ignoreFailures", (False,)),
    "install.remediation.remediateLastFailure": Drop(
        "a failed install is never uninstalled: it stalls", (False,)
    ),
    "install.timeout": Drop(_ONE_TIMEOUT),
    "install.strategy": Drop("install failures follow spec.install.remediation"),
    "upgrade.force": Move("upgrade.force"),
    "upgrade.cleanupOnFail": Move("upgrade.cleanupOnFail"),
    "upgrade.disableWait": Move("upgrade.disableWait"),
    "upgrade.crds": Move("upgrade.crds", _crds),
    "upgrade.remediation.retries": Move("upgrade.remediation.retries"),
    "upgrade.remediation.strategy": Move("upgrade.remediation.strategy"),
    "upgrade.remediation.remediateLastFailure": Move("upgrade.remediation.remediateLastFailure"),
    "upgrade.remediation.ignoreTestFailures": Drop("use spec.test.ignoreFailures", (False,)),
    "upgrade.timeout": Drop(_ONE_TIMEOUT),
    "upgrade.preserveValues": Move("upgrade.preserveValues"),
    "upgrade.strategy": Drop("upgrade failures follow spec.upgrade.remediation"),
    "test.enable": Move("test.enable"),
    "test.ignoreFailures": Move("test.ignoreFailures"),
    "test.timeout": Move("test.timeout"),
    "test.filters": Move("test.filters"),
    "rollback.timeout": Move("rollback.timeout"),
    "rollback.force": Move("rollback.force"),
    "rollback.cleanupOnFail": Move("rollback.cleanupOnFail"),
    "rollback.disableWait": Move("rollback.disableWait"),
    "rollback.recreate": Move("rollback.recreate"),
    "uninstall.timeout": Move("uninstall.timeout"),
    "uninstall.keepHistory": Move("uninstall.keepHistory"),
    "uninstall.disableHooks": Move("uninstall.disableHooks"),
    "uninstall.disableWait": Move("uninstall.disableWait"),
    "uninstall.deletionPropagation": Move("uninstall.deletionPropagation"),
}
for _path in (
    *(f"{a}.{f}" for a in ("install", "upgrade", "rollback") for f in ("disableHooks", "disableWaitForJobs")),
    *(
        f"{a}.{f}"
        for a in ("install", "upgrade")
        for f in ("disableOpenAPIValidation", "disableSchemaValidation")
    ),
    *(f"{a}.disableTakeOwnership" for a in ("install", "upgrade")),
):
    V2_RULES[_path] = Move(_path)
V2_RULES["install.replace"] = Drop(
    "helm upgrade --install always reuses the name of an uninstalled release", (True,)
)

VALUES_FROM_FIELDS = ("kind", "name", "valuesKey", "targetPath", "optional")
DEPENDS_ON_FIELDS = ("name", "namespace")

# --- Flux v2 sources -----------------------------------------------------------------------------

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
    "verify": Drop("source verification is not built yet (issue 16)"),
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
    "HelmChart": {
        "chart": HANDLED,
        "version": HANDLED,
        "sourceRef": HANDLED,
        "valuesFiles": HANDLED,
        "valuesFile": HANDLED,
        "interval": _SOURCE_INTERVAL,
        "suspend": _SOURCE_SUSPEND,
        "reconcileStrategy": V2_RULES["chart.spec.reconcileStrategy"],
        "verify": V2_RULES["chart.spec.verify"],
        "ignoreMissingValuesFiles": V2_RULES["chart.spec.ignoreMissingValuesFiles"],
    },
}

Sources = dict[tuple[str, str, str], dict[str, Any]]


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
    name = _get(src, "spec.secretRef.name")
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
    template = _get(spec, "chart.spec")
    if not isinstance(template, dict):
        raise Unconvertible("spec.chart.spec or spec.chartRef is required")
    return _from_template(template, namespace, sources, namespace)


# --- Flux v2 HelmRelease -------------------------------------------------------------------------


def _items(
    items: Any, fields: tuple[str, ...], what: str, where: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """List items keeping `fields`; one warning per other field of an item."""
    out, warnings = [], []
    for i, item in enumerate(items or []):
        out.append({k: copy.deepcopy(v) for k, v in item.items() if k in fields and v is not None})
        warnings += [f"{what}: {where}[{i}].{k} {NO_EQUIVALENT} (dropped)" for k in item if k not in fields]
    return out, warnings


def _storage(
    spec: dict[str, Any], namespace: str, target: str, what: str
) -> tuple[dict[str, Any], list[str]]:
    """spec.storageNamespace: ours must be the target namespace. Flux's default is the HelmRelease's
    namespace, so a release Flux stored elsewhere than its target is named: we would not find it."""
    storage = spec.get("storageNamespace")
    if storage == target:
        return {"storageNamespace": storage}, []
    if storage:
        return {}, [
            f"{what}: spec.storageNamespace {storage} {NO_EQUIVALENT} (dropped: helm stores a release "
            f"in its own namespace, {target}; the release Flux stored in {storage} is not adopted)"
        ]
    if namespace != target:
        return {}, [
            f"{what}: Flux stored this release in {namespace} (its default storage namespace, the "
            f"HelmRelease's); ours is {target} (the target namespace): the release Flux installed is "
            "not adopted (docs/migrating-from-flux.md)"
        ]
    return {}, []


def _refused(spec: dict[str, Any], namespace: str, what: str) -> tuple[dict[str, Any], list[str]]:
    """Fields we have but whose value our controller refuses today: kept when accepted, else a warning."""
    out, warnings = _storage(spec, namespace, spec.get("targetNamespace") or namespace, what)
    drift = spec.get("driftDetection") or {}
    if drift.get("mode", "disabled") == "disabled":
        out.update({"driftDetection": copy.deepcopy(drift)} if drift else {})
    else:
        warnings.append(
            f"{what}: spec.driftDetection {NO_EQUIVALENT} (dropped: mode {drift['mode']}: {_NOT_BUILT})"
        )
    for action in ("install", "upgrade"):
        if _get(spec, f"{action}.crds") == "CreateReplace":
            warnings.append(
                f"{what}: spec.{action}.crds CreateReplace {NO_EQUIVALENT} (dropped: {_NOT_BUILT}; "
                "CRDs that exist are never replaced)"
            )
    return out, warnings


def convert_v2(hr: dict[str, Any], sources: Sources) -> tuple[dict[str, Any], list[str], ChartResult]:
    """A Flux v2 HelmRelease's spec as ours, its warning lines and its resolved chart."""
    what, spec = ident(hr), hr.get("spec") or {}
    namespace = (hr.get("metadata") or {}).get("namespace") or "default"
    out, warnings = apply_rules(spec, V2_RULES, what)
    chart = resolve_chart(spec, namespace, sources)
    out["chart"] = chart.chart
    warnings += [f"{what}: {w}" for w in chart.warnings]
    for name, fields in (("valuesFrom", VALUES_FROM_FIELDS), ("dependsOn", DEPENDS_ON_FIELDS)):
        if spec.get(name):
            out[name], more = _items(spec[name], fields, what, f"spec.{name}")
            warnings += more
    refused, more = _refused(spec, namespace, what)
    out.update(refused)
    return out, warnings + more, chart


# --- Flux v1 HelmRelease (helm-operator) ---------------------------------------------------------

V1_RULES: dict[str, Rule] = {
    **{f"chart.{k}": HANDLED for k in ("git", "ref", "path", "secretRef", "repository", "name", "version")},
    "chart.skipDepUpdate": Drop("dependencies are built as the chart ships them", (False,)),
    "chart.chartPullSecret": Drop("helm-operator never implemented it; use spec.chart.repository.secretRef"),
    "releaseName": Move("releaseName"),
    "targetNamespace": Move("targetNamespace"),
    "timeout": Move("timeout", _seconds),
    "values": Move("values"),
    "maxHistory": Move("maxHistory"),
    "valuesFrom": HANDLED,
    "valueFileSecrets": HANDLED,
    "resetValues": Move("upgrade.preserveValues", lambda reset: True if reset is False else None),
    "skipCRDs": Move("install.crds", _crds_skip),
    "wait": HANDLED,
    "forceUpgrade": Move("upgrade.force"),
    **{f"rollback.{k}": HANDLED for k in ("enable", "retry", "maxRetries", "wait")},
    "rollback.force": Move("rollback.force"),
    "rollback.timeout": Move("rollback.timeout", _seconds),
    "rollback.recreate": Move("rollback.recreate"),
    "rollback.disableHooks": Move("rollback.disableHooks"),
    "test.enable": Move("test.enable"),
    "test.ignoreFailures": Move("test.ignoreFailures"),
    "test.timeout": Move("test.timeout", _seconds),
    "test.cleanup": Drop("Helm 2 only", (True, False)),
    "helmVersion": Drop("helm 3 or 4 runs every release", ("v3",)),
    "disableOpenAPIValidation": Move(
        "install.disableOpenAPIValidation", also=("upgrade.disableOpenAPIValidation",)
    ),
}
_V1_MAX_RETRIES = 5  # helm-operator's default; 0 means no limit
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_SEMVER_TAG = re.compile(r"^v?\d+\.\d+\.\d+")


def _v1_git_ref(ref: str | None, what: str) -> tuple[dict[str, str], list[str]]:
    """helm-operator's `ref` (a branch, tag or commit) as our GitRef."""
    if not ref:
        return {"branch": "master"}, [
            f"{what}: spec.chart.ref not set: using branch master "
            "(helm-operator's default --git-default-ref; change it if yours differed)"
        ]
    for prefix, kind in (("refs/heads/", "branch"), ("refs/tags/", "tag")):
        if ref.startswith(prefix):
            return {kind: ref.removeprefix(prefix)}, []
    if _HEX40.match(ref):
        return {"commit": ref}, []
    if _SEMVER_TAG.match(ref):
        return {"tag": ref}, [
            f"{what}: spec.chart.ref {ref} taken as a tag (write branch: {ref} if it is a branch)"
        ]
    return {"branch": ref}, []


def _v1_chart(chart: dict[str, Any], what: str) -> tuple[dict[str, Any], list[str]]:
    secret = {"secretRef": {"name": chart["secretRef"]["name"]}} if _get(chart, "secretRef.name") else {}
    if chart.get("git"):
        ref, warnings = _v1_git_ref(chart.get("ref"), what)
        path = str(chart.get("path") or ".").removeprefix("./") or "."
        return {"git": {"url": chart["git"], "ref": ref, "path": path, **secret}}, warnings
    url, name, version = chart.get("repository"), chart.get("name"), chart.get("version")
    if not url or not name:
        raise Unconvertible("spec.chart needs git (with path) or repository with name")
    if url.startswith("oci://"):
        return {"oci": {"url": f"{url.rstrip('/')}/{name}", **({"version": version} if version else {})}}, []
    return {"repository": {"url": url, "name": name, **({"version": version} if version else {})}}, []


def _v1_values_from(
    spec: dict[str, Any], namespace: str, what: str
) -> tuple[list[Any], list[str], list[str]]:
    """helm-operator's valueFileSecrets and valuesFrom as our valuesFrom, chart values files, warnings."""
    refs: list[dict[str, Any]] = [
        {"kind": "Secret", "name": s["name"]} for s in spec.get("valueFileSecrets") or []
    ]
    files, warnings = [], []
    for i, item in enumerate(spec.get("valuesFrom") or []):
        where = f"{what}: spec.valuesFrom[{i}]"
        for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
            if key in item:
                sel = item[key]
                refs.append(
                    {
                        "kind": kind,
                        "name": sel["name"],
                        "valuesKey": sel.get("key") or "values.yaml",
                        **({"optional": True} if sel.get("optional") else {}),
                    }
                )
                if sel.get("namespace") not in (None, namespace):
                    warnings.append(
                        f"{where}: {kind} {sel['namespace']}/{sel['name']} must be copied into "
                        f"namespace {namespace} (valuesFrom reads the HelmRelease's namespace)"
                    )
        if "chartFileRef" in item:
            files.append(str(item["chartFileRef"]["path"]).removeprefix("./"))
            if refs:
                warnings.append(
                    f"{where}.chartFileRef: merged before every valuesFrom entry here "
                    "(chart values files come first)"
                )
        if "externalSourceRef" in item:
            warnings.append(
                f"{where}.externalSourceRef {NO_EQUIVALENT} (dropped: values are not fetched "
                "from URLs; put them in a ConfigMap)"
            )
    return refs, files, warnings


def _v1_wait_and_rollback(spec: dict[str, Any], out: dict[str, Any]) -> None:
    """helm-operator's wait (default: on when rollback or test is enabled) and rollback.enable/retry."""
    rollback, test = spec.get("rollback") or {}, spec.get("test") or {}
    wait = spec.get("wait")
    if wait is None:
        wait = bool(rollback.get("enable") or test.get("enable"))
    if not wait:
        _set(out, "install.disableWait", True)
        _set(out, "upgrade.disableWait", True)
    if rollback.get("enable"):
        retries = 0
        if rollback.get("retry"):
            retries = int(rollback.get("maxRetries", _V1_MAX_RETRIES)) or -1
        _set(
            out,
            "upgrade.remediation",
            {"retries": retries, "strategy": "rollback", "remediateLastFailure": True},
        )
        if not rollback.get("wait"):
            _set(out, "rollback.disableWait", True)


def convert_v1(hr: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A Flux v1 HelmRelease's spec as ours and its warning lines."""
    what, spec = ident(hr), hr.get("spec") or {}
    meta = hr.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    out, warnings = apply_rules(spec, V1_RULES, what)
    out["chart"], more = _v1_chart(spec.get("chart") or {}, what)
    refs, files, more2 = _v1_values_from(spec, namespace, what)
    warnings += more + more2
    if refs:
        out["valuesFrom"] = refs
    if files:
        next(iter(out["chart"].values()))["valuesFiles"] = files
    _v1_wait_and_rollback(spec, out)
    target = spec.get("targetNamespace") or namespace
    default_name = (
        f"{namespace}-{meta.get('name')}"
        if target == namespace
        else f"{namespace}-{target}-{meta.get('name')}"
    )
    out.setdefault("releaseName", default_name)  # helm-operator's name, so the release is adopted
    out.setdefault("maxHistory", 10)  # helm-operator's default
    return out, warnings


# --- documents -----------------------------------------------------------------------------------

_DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def _metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """name, namespace, labels and annotations; what the API server wrote (uid, ...) is left out."""
    out = {k: copy.deepcopy(meta[k]) for k in ("name", "namespace", "labels") if meta.get(k)}
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


def _is_source(doc: dict[str, Any]) -> bool:
    return str(doc.get("apiVersion", "")).startswith(SOURCE_GROUP) and doc.get("kind") in SOURCE_KINDS


def _index_sources(docs: list[Any]) -> Sources:
    """The Flux source documents of the input by (kind, namespace, name)."""
    sources: Sources = {}
    for doc in docs:
        if isinstance(doc, dict) and _is_source(doc):
            meta = doc.get("metadata") or {}
            sources[_key(doc["kind"], meta.get("namespace") or "default", str(meta.get("name")))] = doc
    return sources


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
    sources = _index_sources(docs)
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
        elif _is_source(doc):
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
