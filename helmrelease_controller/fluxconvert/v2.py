"""Flux v2 HelmReleases (`helm.toolkit.fluxcd.io/v2`, v2beta2, v2beta1) as our spec. Pure.

Owns the v2 field table (`V2_RULES`) and `convert_v2`: the table applied, the chart resolved by
sources.py, valuesFrom and dependsOn items, and the fields we have but whose value our controller
refuses today (storageNamespace, crds CreateReplace). docs/migrating-from-flux.md explains every
row.
"""

from __future__ import annotations

import copy
from typing import Any

from .postrender import post_renderers
from .rules import HANDLED, NO_EQUIVALENT, Drop, Move, Rule, apply_rules, crds_skip, get_path, ident
from .sources import TEMPLATE_RULES, ChartResult, Sources, resolve_chart

V2_APIS = ("helm.toolkit.fluxcd.io/v2", "helm.toolkit.fluxcd.io/v2beta2", "helm.toolkit.fluxcd.io/v2beta1")
_ONE_TIMEOUT = "one spec.timeout covers every helm action; only rollback and uninstall have their own"
_NOT_BUILT = "our controller refuses it today (not built yet)"


def _crds(value: Any) -> str | None:
    return None if value == "CreateReplace" else value  # CreateReplace: warned by _refused()


V2_RULES: dict[str, Rule] = {
    **{f"chart.spec.{path}": rule for path, rule in TEMPLATE_RULES.items()},
    "chart.spec.interval": Drop("the HelmRelease's interval decides when the chart is checked"),
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
    "postRenderers": HANDLED,  # postrender.py
    "postRenderStrategy": Drop("hooks reach post-renderers on helm 4 (combined), never on helm 3 (nohooks)"),
    "kubeConfig.secretRef": Move("kubeConfig.secretRef"),
    "kubeConfig.configMapRef": Drop("workload identity kubeconfigs are not built: our controller refuses it"),
    "commonMetadata": Move("commonMetadata"),
    "waitStrategy": Move("waitStrategy"),
    "install.createNamespace": Move("install.createNamespace"),
    "install.disableWait": Move("install.disableWait"),
    "install.crds": Move("install.crds", _crds),
    "install.skipCRDs": Move("install.crds", crds_skip),
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
    if drift := spec.get("driftDetection"):  # the same shape and meaning (docs/drift.md)
        out["driftDetection"] = copy.deepcopy(drift)
    for action in ("install", "upgrade"):
        if get_path(spec, f"{action}.crds") == "CreateReplace":
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
    if spec.get("postRenderers"):
        out["postRenderers"], more = post_renderers(spec["postRenderers"], what)
        warnings += more
    refused, more = _refused(spec, namespace, what)
    out.update(refused)
    return out, warnings + more, chart
