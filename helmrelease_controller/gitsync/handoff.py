"""Push webhooks for GitSyncs this replica does not serve, handed to the replica that does.

Every replica answers `/hooks/gitsync/<namespace>/<name>` (the metrics Service selects them all),
but only the leader of the GitSync's shard (kube/sharding.py) syncs it. A push that reaches any
other replica (another shard's, or a standby) is checked the same way, against the GitSync's
webhook Secret read with a GET, and then handed over through the API: the
`helmrelease.dev/reconcile-requested-at` annotation, as `kubectl hr reconcile` writes it, which
makes the serving replica fetch and sync at once. With no replica serving the shard, the request
waits on the object for one to start.

Owns: reading a GitSync's webhook token (for both paths), and the hand-off writes, run in the
background so the receiver answers at once; a failed write is one warning line.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

from ..api.gitsync import GitSync
from ..api.models import ANNOTATION_RECONCILE_REQUESTED_AT, SpecError
from ..kube.client import SECRETS, ApiError, KubeClient, NotFound
from ..ops.follow import new_token
from .apply import GITSYNCS

log = logging.getLogger(__name__)


async def webhook_token(client: KubeClient, obj: dict[str, Any]) -> bytes | None:
    """The push webhook's shared secret of GitSync `obj`; None when it has no webhook (or its
    Secret has no token)."""
    try:
        gs = GitSync.from_obj(obj)
    except SpecError:
        return None
    if gs.spec.webhook is None:
        return None
    ns, name, secret_name = gs.namespace, gs.name, gs.spec.webhook.secret_ref.name
    try:
        secret = await client.get(SECRETS, ns, secret_name)
        raw = (secret.get("data") or {}).get("token")
        return base64.b64decode(raw) if raw else None
    except ApiError as e:
        log.warning(
            "gitsync webhook %s/%s: Secret %s/%s unreadable (%s)", ns, name, ns, secret_name, e.status
        )
        return None


async def foreign_token(client: KubeClient, ns: str, name: str) -> bytes | None:
    """`webhook_token` of a GitSync this replica's informer does not hold, read with a GET; None
    when there is no such GitSync."""
    try:
        obj = await client.get(GITSYNCS, ns, name)
    except NotFound:
        return None
    except ApiError as e:
        log.warning("gitsync webhook %s/%s: GitSync unreadable (%s)", ns, name, e.status)
        return None
    return await webhook_token(client, obj)


class Handoff:
    """Background writes of the reconcile request that hand a push to the serving replica."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self._tasks: set[asyncio.Task[None]] = set()

    def push(self, ns: str, name: str) -> None:
        task = asyncio.create_task(self._request(ns, name), name=f"gitsync-handoff-{ns}/{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _request(self, ns: str, name: str) -> None:
        body = {"metadata": {"annotations": {ANNOTATION_RECONCILE_REQUESTED_AT: new_token()}}}
        try:
            await self.client.patch(GITSYNCS, ns, name, body, "merge")
        except ApiError as e:
            log.warning("gitsync webhook %s/%s: could not hand the push over (%s)", ns, name, e.status)
            return
        log.info("gitsync webhook %s/%s: push handed to the replica serving it", ns, name)

    async def close(self) -> None:
        """Let the writes in flight finish (each is one request)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)


__all__ = ["Handoff", "foreign_token", "webhook_token"]
