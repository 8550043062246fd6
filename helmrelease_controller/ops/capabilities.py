"""What `helm upgrade` reads from the cluster for a chart's `.Capabilities`, read the same way for
`helm template` (`diff`): the server's version and, from discovery, every served group version and
`group/version/Kind` (helm's `GetVersionSet`). An API the server does not answer is left out."""

from __future__ import annotations

import asyncio
from typing import Any

from ..kube.client import ApiError, KubeClient


async def kube_version(client: KubeClient) -> str:
    """The API server's gitVersion ("" when it says none)."""
    try:
        version = await client.get_path("/version")
    except ApiError:
        return ""
    return str(version.get("gitVersion") or "")


def group_versions(apis: dict[str, Any]) -> list[str]:
    """The group versions of an APIGroupList (`GET /apis`). Pure."""
    return [
        str(v["groupVersion"])
        for g in apis.get("groups") or []
        for v in g.get("versions") or []
        if v.get("groupVersion")
    ]


def version_set(resource_lists: dict[str, dict[str, Any]]) -> list[str]:
    """Helm's version set: each group version and each `group/version/Kind` it serves. Pure."""
    out: set[str] = set()
    for gv, listing in resource_lists.items():
        out.add(gv)
        out.update(f"{gv}/{r['kind']}" for r in listing.get("resources") or [] if r.get("kind"))
    return sorted(out)


async def api_versions(client: KubeClient) -> list[str]:
    """The cluster's version set from discovery ([] when discovery is refused)."""
    try:
        gvs = ["v1", *group_versions(await client.get_path("/apis"))]
    except ApiError:
        return []

    async def listing(gv: str) -> dict[str, Any]:
        try:
            return await client.get_path("/api/v1" if gv == "v1" else f"/apis/{gv}")
        except ApiError:
            return {}

    lists = await asyncio.gather(*(listing(gv) for gv in gvs))
    return version_set({gv: lst for gv, lst in zip(gvs, lists, strict=True) if lst})
