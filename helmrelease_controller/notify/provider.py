"""What every provider shares: a request body and headers for one notification, and the Secret
values (URL, signing key) read through the caller's `get_secret` callback and cached.

Secret values never appear in a repr, a log line or an exception message raised from here.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from .. import __version__
from .config import ProviderConfig, SecretRef
from .notification import Notification

#: `async get_secret(namespace, name, key) -> str`, implemented by the controller with its kube client.
GetSecret = Callable[[str, str, str], Awaitable[str]]

USER_AGENT = f"helmrelease-controller/{__version__}"


class SecretUnavailable(Exception):
    """A Secret value could not be read. The message names the Secret key, never a value."""


class SecretCache:
    """Secret values by (namespace, name, key), read once and kept until `invalidate()`."""

    def __init__(self, get_secret: GetSecret) -> None:
        self._get = get_secret
        self._values: dict[tuple[str, str, str], str] = {}
        self.reads = 0

    async def get(self, ref: SecretRef) -> str:
        k = (ref.namespace, ref.name, ref.key)
        value = self._values.get(k)
        if value is None:
            self.reads += 1
            try:
                value = await self._get(*k)
            except Exception as e:
                raise SecretUnavailable(f"Secret {ref}: {type(e).__name__}") from None
            value = (value or "").strip()
            if not value:
                raise SecretUnavailable(f"Secret {ref}: empty")
            self._values[k] = value
        return value

    def invalidate(self, ref: SecretRef) -> None:
        self._values.pop((ref.namespace, ref.name, ref.key), None)

    def __repr__(self) -> str:
        return f"SecretCache({len(self._values)} cached)"


class Provider:
    """One configured destination. Subclasses build the payload (and maybe extra headers)."""

    type = ""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.name = config.name

    def payload(self, n: Notification) -> dict[str, Any]:
        raise NotImplementedError

    def body(self, n: Notification) -> bytes:
        return json.dumps(self.payload(n), separators=(",", ":"), ensure_ascii=False).encode()

    def secret_refs(self) -> list[SecretRef]:
        """The Secret keys this provider reads (re-read after a 401/403/404/410)."""
        return [self.config.secret_ref]

    async def url(self, secrets: SecretCache) -> str:
        return await secrets.get(self.config.secret_ref)

    async def headers(self, n: Notification, body: bytes, secrets: SecretCache) -> dict[str, str]:
        return {"Content-Type": "application/json", "User-Agent": USER_AGENT}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def build_providers(providers: list[ProviderConfig]) -> dict[str, Provider]:
    from .slack import SlackProvider
    from .webhook import WebhookProvider

    kinds: dict[str, type[Provider]] = {"slack": SlackProvider, "webhook": WebhookProvider}
    return {p.name: kinds[p.type](p) for p in providers}


__all__ = ["USER_AGENT", "GetSecret", "Provider", "SecretCache", "SecretUnavailable", "build_providers"]
