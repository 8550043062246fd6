"""`values NAME [--show-secrets]`: the user values the controller passes to helm for a HelmRelease
(each `valuesFrom` entry in order, then `spec.values`; helm coalesces them over the chart's
defaults), merged by the controller's own code (`valuesfrom.resolve_values`). Every value that comes
from a Secret is masked unless `--show-secrets`: the Secrets are read through a client that masks
their data first, so the merge itself never sees a secret value."""

from __future__ import annotations

import argparse
import base64
import json
from typing import Any

import yaml

from ..api.models import HelmRelease, SpecError
from ..kube.client import SECRETS, KubeClient, Resource
from ..values import ValuesError
from ..valuesfrom import resolve_values
from ..valuesyaml import ValuesYAMLError, load_values
from .common import HELMRELEASES, OK, Failure, Out, add_cluster_flags, command, default_namespace
from .follow import read

MASK = "*****"
EPILOG = """examples:
  kubectl hr values web -n apps                 # Secret-derived values shown as *****
  kubectl hr values web -o json
  kubectl hr values web --show-secrets          # needs `get` on those Secrets (RBAC), as reading them
"""

Obj = dict[str, Any]


def register(sub: Any) -> None:
    about = "The merged user values of a HelmRelease (valuesFrom in order, then spec.values)."
    p = command(sub, "values", "the merged values passed to helm", about, EPILOG)
    p.add_argument("name", metavar="NAME", help="the HelmRelease")
    add_cluster_flags(p, all_namespaces=False)
    p.add_argument("-o", "--output", choices=["yaml", "json"], default="yaml")
    p.add_argument(
        "--show-secrets",
        action="store_true",
        help="show values from Secrets too (reading them needs the same RBAC as `kubectl get secret`)",
    )
    p.set_defaults(handler=run)


def masked(value: Any) -> Any:
    """`value` with every leaf (string, number, boolean) replaced by MASK; maps and lists kept."""
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return None if value is None else MASK


def masked_data(raw: str) -> str:
    """One Secret data value (decoded) masked: a YAML map keeps its keys, anything else is MASK."""
    try:
        parsed = load_values(raw) if raw.strip() else {}
    except (ValuesYAMLError, yaml.YAMLError):
        return MASK
    return yaml.safe_dump(masked(parsed)) if isinstance(parsed, dict) and parsed else MASK


class _MaskingClient:
    """Reads like a KubeClient, but a Secret's data arrives masked (see `masked_data`)."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client

    async def get(self, res: Resource, ns: str | None, name: str) -> Obj:
        obj = await self.client.get(res, ns, name)
        if res is SECRETS:
            data = obj.get("data") or {}
            obj["data"] = {k: _b64(masked_data(_unb64(v))) for k, v in data.items()}
        return obj


def _unb64(value: str) -> str:
    try:
        return base64.b64decode(value).decode()
    except (ValueError, UnicodeDecodeError):
        return ""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def run(args: argparse.Namespace, client: KubeClient, out: Out) -> int:
    obj = await read(client, HELMRELEASES, default_namespace(args), args.name)
    try:
        hr = HelmRelease.from_obj(obj, supported_only=False)
    except SpecError as e:
        raise Failure(f"invalid spec: {e}") from None
    source = getattr(hr.spec.chart, hr.spec.chart.kind)
    if getattr(source, "values_files", None):
        out.err("note: the chart's valuesFiles are merged first by the controller and are not shown")
    reader: Any = client if args.show_secrets else _MaskingClient(client)
    try:
        values, _ = await resolve_values(reader, hr)
    except ValuesError as e:
        raise Failure(str(e)) from None
    text = json.dumps(values, indent=4) if args.output == "json" else yaml.safe_dump(values, sort_keys=False)
    out.line(text.rstrip("\n"))
    return OK
