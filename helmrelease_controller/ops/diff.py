"""`diff NAME` / `diff -f FILE.yaml`: what applying a HelmRelease spec would change. The desired side
is the controller's own chart resolution (`ChartResolver`, the controller's sources) and values merge
(`valuesfiles`, `valuesfrom.resolve_values`) rendered by the real `helm template`; the deployed side
is the manifest of the release's newest deployed revision in Helm's storage. Printed per object as a
unified diff with Secrets' data masked (manifestdiff.py) and every value that came from a Secret
(valuesFrom) redacted wherever the chart put it; exit 1 when there is a difference."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..api.models import HelmRelease, SpecError
from ..helm.runner import Helm, HelmError
from ..kube.client import SECRETS, KubeClient
from ..postrender import PostRender
from ..reconcile.helmstorage import decode_release
from ..redact import redact
from ..sources.base import ResolvedChart, SourceError
from ..valuesfiles import read_values_files
from ..valuesfrom import ValuesError, resolve_values
from . import capabilities
from .common import (
    FAILED,
    HELMRELEASES,
    OK,
    Failure,
    Out,
    add_cluster_flags,
    command,
    default_namespace,
)
from .follow import read
from .history import where
from .manifestdiff import manifest_diff

EPILOG = """examples:
  kubectl hr diff web -n apps              # the cluster's spec against the deployed release
  kubectl hr diff -f web.yaml              # the spec you are about to apply
  kubectl hr diff web && echo "in sync"    # exit 0 no difference, 1 different
"""
Obj = dict[str, Any]


def register(sub: Any) -> None:
    about = "Diff the rendered manifests of a HelmRelease's spec against its deployed release."
    p = command(sub, "diff", "what applying the spec would change", about, EPILOG)
    which = p.add_mutually_exclusive_group(required=True)  # one of them, else usage (exit 2)
    which.add_argument("name", metavar="NAME", nargs="?", help="the HelmRelease (or -f)")
    which.add_argument("-f", "--filename", metavar="FILE", help="the HelmRelease from a YAML file")
    add_cluster_flags(p, all_namespaces=False)
    p.add_argument("--helm", default="helm", help="the helm executable (default: helm on PATH)")
    p.add_argument("--cache-dir", metavar="DIR", help="chart cache (default: a temporary directory)")
    p.set_defaults(handler=run)


def from_file(path: str, namespace: str) -> Obj:
    """The HelmRelease of a YAML file (the first one), in its namespace or `namespace`."""
    try:
        docs = list(yaml.safe_load_all(Path(path).read_text()))
    except (OSError, yaml.YAMLError) as e:
        raise Failure(f"{path}: {' '.join(str(e).split())}") from None
    obj = next((d for d in docs if isinstance(d, dict) and d.get("kind") == "HelmRelease"), None)
    if obj is None:
        raise Failure(f"{path}: no HelmRelease in the file")
    meta = obj.setdefault("metadata", {})
    meta["namespace"] = meta.get("namespace") or namespace
    return obj


async def deployed_manifest(client: KubeClient, obj: Obj) -> str | None:
    """The manifest of the release's newest deployed revision in Helm's storage (None: none)."""
    storage_ns, release = where(obj)
    secrets, _ = await client.list(SECRETS, storage_ns, label_selector=f"owner=helm,name={release}")
    best: Obj | None = None
    for s in secrets:
        try:
            rel = decode_release(s)
        except (KeyError, ValueError, OSError):
            continue
        newer = best is None or int(rel.get("version", 0)) > int(best.get("version", 0))
        if (rel.get("info") or {}).get("status") == "deployed" and newer:
            best = rel
    return None if best is None else str(best.get("manifest") or "")


async def chart_and_values(
    client: KubeClient, hr: HelmRelease, helm: str, cache: Path
) -> tuple[ResolvedChart, Obj, set[str]]:
    """The chart, merged user values and their secret strings, by the controller's own code."""
    from ..controller import Options, chart_sources
    from ..metrics import Metrics

    resolver = chart_sources(Options(cache_dir=str(cache), helm=helm), Metrics())
    try:
        chart: ResolvedChart = await resolver.resolve(hr, client)
        source = getattr(hr.spec.chart, hr.spec.chart.kind)
        files = await read_values_files(chart, list(getattr(source, "values_files", []) or []))
        values, secrets = await resolve_values(client, hr, files)
        return chart, values, secrets
    except SourceError as e:
        raise Failure(f"cannot fetch the chart: {e}") from None
    except ValuesError as e:
        raise Failure(str(e)) from None
    finally:
        for source_kind in (resolver.repository, resolver.git, resolver.oci):
            await source_kind.close()


async def desired(client: KubeClient, hr: HelmRelease, helm: Helm, cache: Path, install: bool) -> str:
    """`helm template` of the chart and values the controller would use, as an upgrade (or, with
    `install`, an install: CRDs included unless install.crds is Skip) renders them."""
    chart, values, secrets = await chart_and_values(client, hr, helm.executable, cache)
    helm.add_secrets(secrets)
    include_crds = install and str(hr.spec.install.crds or "Create") != "Skip"
    try:
        return await helm.template(
            hr.release_name,
            hr.target_namespace,
            chart.path,
            values,
            include_crds,
            not install,
            await capabilities.kube_version(client),
            await capabilities.api_versions(client),
            post_render=PostRender.from_spec(hr.spec),  # as install and upgrade post-render
        )
    except HelmError as e:
        raise Failure(e.summary) from None


async def run(args: argparse.Namespace, client: KubeClient, out: Out) -> int:
    ns = default_namespace(args)
    obj = from_file(args.filename, ns) if args.filename else await read(client, HELMRELEASES, ns, args.name)
    try:
        hr = HelmRelease.from_obj(obj, supported_only=False)
    except SpecError as e:
        raise Failure(f"invalid spec: {e}") from None
    before = await deployed_manifest(client, obj)
    helm = Helm(executable=args.helm)
    with tempfile.TemporaryDirectory(prefix="hr-diff-") as tmp:
        after = await desired(client, hr, helm, Path(args.cache_dir or tmp), before is None)
    if before is None:
        out.err(f"note: release {hr.target_namespace}/{hr.release_name} has no deployed revision: "
                "everything is an addition")  # fmt: skip
    # A value from a Secret (valuesFrom) is masked wherever the chart put it, not only in Secrets.
    lines = [redact(line, helm.secrets) for line in manifest_diff(before, after, hr.target_namespace)]
    for line in lines:
        out.line(line)
    return FAILED if lines else OK
