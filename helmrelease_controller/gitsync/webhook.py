"""The push webhook receiver: `POST /hooks/gitsync/<namespace>/<name>` triggers an immediate sync.

Served on the metrics server's port. A GitSync opts in with `spec.webhook.secretRef.name`: a
Secret in its namespace whose key `token` is the shared secret. A request is accepted when it
carries that secret the way a git host sends it:

- GitHub (and Gitea, Forgejo): `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`;
- GitLab: `X-Gitlab-Token: <the secret>`.

Answers: 202 (accepted: a sync is queued; the body is not read further, a sync always reads the
branch itself, so a forged payload could at most cause a sync), 401 (no or wrong signature: nothing
triggered), 404 (no such GitSync, or it has no `spec.webhook`: the same answer, so the receiver
does not reveal which GitSyncs exist), 405 (not POST), 413 (a body over 1 MiB). The secret and the
signatures never reach logs.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

log = logging.getLogger(__name__)

PATH = "/hooks/gitsync/{namespace}/{name}"
MAX_BODY = 1 << 20

# (namespace, name) -> the shared secret, or None when the GitSync or its webhook does not exist.
TokenLookup = Callable[[str, str], Awaitable[bytes | None]]
Trigger = Callable[[str, str], None]


def verify(headers: Mapping[str, str], body: bytes, token: bytes) -> bool:
    """Does the request carry `token` as GitHub (HMAC of the body) or GitLab (the token) sends it?"""
    if not token:
        return False
    signature = headers.get("X-Hub-Signature-256", "")
    if signature:
        algo, _, given = signature.partition("=")
        expected = hmac.new(token, body, hashlib.sha256).hexdigest()
        return algo == "sha256" and hmac.compare_digest(given.strip().lower(), expected)
    gitlab = headers.get("X-Gitlab-Token", "")
    if gitlab:
        return hmac.compare_digest(gitlab.encode(), token)
    return False


def add_routes(app: web.Application, lookup: TokenLookup, trigger: Trigger) -> None:
    """Serve the receiver on `app` (the metrics server's application)."""

    async def handle(request: web.Request) -> web.Response:
        ns, name = request.match_info["namespace"], request.match_info["name"]
        if request.method != "POST":
            return web.json_response({"error": "use POST"}, status=405, headers={"Allow": "POST"})
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.json_response({"error": "body too large"}, status=413)
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return web.json_response({"error": "body too large"}, status=413)
        token = await lookup(ns, name)
        if token is None:
            return web.json_response({"error": "no webhook for this GitSync"}, status=404)
        if not verify(request.headers, body, token):
            log.warning("gitsync webhook %s/%s: missing or wrong signature; ignored", ns, name)
            return web.json_response({"error": "missing or wrong signature"}, status=401)
        log.info("gitsync webhook %s/%s: push received; syncing now", ns, name)
        trigger(ns, name)
        return web.json_response({"accepted": f"{ns}/{name}"}, status=202)

    app.router.add_route("*", PATH, handle)


__all__ = ["MAX_BODY", "PATH", "add_routes", "verify"]
