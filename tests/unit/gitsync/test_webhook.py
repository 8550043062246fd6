"""The GitSync push webhook: GitHub and GitLab signatures, and what the receiver answers over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json

import aiohttp
import pytest

from helmrelease_controller.gitsync import webhook
from helmrelease_controller.gitsync.webhook import MAX_BODY, verify
from helmrelease_controller.metrics import Metrics

TOKEN = b"s3cr3t-token"
BODY = json.dumps({"ref": "refs/heads/main"}).encode()
GOOD = "sha256=" + hmac.new(TOKEN, BODY, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("headers", "body", "ok"),
    [
        ({"X-Hub-Signature-256": GOOD}, BODY, True),
        ({"X-Hub-Signature-256": GOOD.upper().replace("SHA256=", "sha256=")}, BODY, True),
        ({"X-Hub-Signature-256": GOOD}, BODY + b" ", False),  # body changed
        ({"X-Hub-Signature-256": "sha1=" + GOOD[7:]}, BODY, False),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, BODY, False),
        ({"X-Hub-Signature-256": "garbage"}, BODY, False),
        ({"X-Gitlab-Token": TOKEN.decode()}, BODY, True),
        ({"X-Gitlab-Token": "wrong"}, BODY, False),
        ({"X-Gitlab-Token": ""}, BODY, False),
        ({}, BODY, False),
        ({"Authorization": f"Bearer {TOKEN.decode()}"}, BODY, False),  # not a way we accept
    ],
)
def test_verify(headers: dict[str, str], body: bytes, ok: bool) -> None:
    assert verify(headers, body, TOKEN) is ok


def test_an_empty_token_verifies_nothing() -> None:
    assert not verify({"X-Gitlab-Token": ""}, BODY, b"")


async def test_the_receiver_over_http() -> None:

    triggered: list[tuple[str, str]] = []

    async def lookup(ns: str, name: str) -> bytes | None:
        return TOKEN if (ns, name) == ("platform", "prod") else None

    server = await Metrics().serve(
        "127.0.0.1:0",
        routes=lambda app: webhook.add_routes(app, lookup, lambda ns, n: triggered.append((ns, n))),
    )
    try:
        url = f"{server.url}/hooks/gitsync"
        async with aiohttp.ClientSession() as http:

            async def post(path: str, headers: dict[str, str], body: bytes = BODY) -> int:
                async with http.post(f"{url}/{path}", data=body, headers=headers) as r:
                    return r.status

            assert await post("platform/prod", {"X-Hub-Signature-256": GOOD}) == 202
            assert await post("platform/prod", {"X-Gitlab-Token": TOKEN.decode()}) == 202
            assert triggered == [("platform", "prod")] * 2
            assert await post("platform/prod", {}) == 401
            assert await post("platform/prod", {"X-Hub-Signature-256": "sha256=" + "1" * 64}) == 401
            # No such GitSync and no webhook configured look the same.
            assert await post("platform/dev", {"X-Hub-Signature-256": GOOD}) == 404
            assert await post("platform/prod", {"X-Gitlab-Token": "x"}, b"x" * (MAX_BODY + 1)) == 413
            async with http.get(f"{url}/platform/prod") as r:
                assert r.status == 405
            assert triggered == [("platform", "prod")] * 2
    finally:
        await server.stop()
