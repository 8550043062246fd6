"""Flux v1 HelmReleases (`helm.fluxcd.io/v1`, helm-operator) as our spec. Pure.

Owns the v1 field table (`V1_RULES`) and `convert_v1`: the table applied, the chart (git ref,
repository, oci), valueFileSecrets and valuesFrom, helm-operator's wait and rollback defaults, and
the release name and history helm-operator used, so the release it installed is adopted.
docs/migrating-from-flux.md explains every row.
"""

from __future__ import annotations

import re
from typing import Any

from .rules import (
    HANDLED,
    NO_EQUIVALENT,
    Drop,
    Move,
    Rule,
    Unconvertible,
    apply_rules,
    crds_skip,
    get_path,
    ident,
    set_path,
)

V1_API = "helm.fluxcd.io/v1"


def _seconds(value: Any) -> str:
    """Flux v1 seconds (an integer) as a duration."""
    return f"{int(value)}s"


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
    "skipCRDs": Move("install.crds", crds_skip),
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
    secret = {"secretRef": {"name": chart["secretRef"]["name"]}} if get_path(chart, "secretRef.name") else {}
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
        set_path(out, "install.disableWait", True)
        set_path(out, "upgrade.disableWait", True)
    if rollback.get("enable"):
        retries = 0
        if rollback.get("retry"):
            retries = int(rollback.get("maxRetries", _V1_MAX_RETRIES)) or -1
        set_path(
            out,
            "upgrade.remediation",
            {"retries": retries, "strategy": "rollback", "remediateLastFailure": True},
        )
        if not rollback.get("wait"):
            set_path(out, "rollback.disableWait", True)


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
