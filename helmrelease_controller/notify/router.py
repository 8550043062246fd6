"""Routing: which providers a notification goes to. Pure.

Every matching route contributes its providers (all matches, not first match): a platform
channel can take everything while each team's route adds the team's own channel. A route matches
when each criterion it gives holds: the HelmRelease's namespace is in `namespaces`, its labels
satisfy `selector`, the outcome is in `outcomes`. On top of the routes, the annotation
`helmrelease.dev/notify: <provider>[,<provider>...]` on a HelmRelease sends it to the providers it
names (unknown names are ignored, with one warning per name). The result keeps configuration order
(routes first, then the annotation's providers) without duplicates.
"""

from __future__ import annotations

import logging

from .config import NotificationsConfig, Route
from .notification import Notification

log = logging.getLogger("helmrelease_controller.notify")

ANNOTATION_NOTIFY = "helmrelease.dev/notify"


class Router:
    def __init__(self, config: NotificationsConfig) -> None:
        self.routes = list(config.routes)
        self.provider_names = [p.name for p in config.providers]
        self._known = set(self.provider_names)
        self._warned: set[str] = set()

    def route(self, n: Notification) -> list[str]:
        """Names of the providers `n` goes to, in configuration order, each once."""
        out: list[str] = []
        for r in self.routes:
            if matches(r, n):
                out.extend(p for p in r.providers if p not in out)
        for name in annotated_providers(n):
            if name in self._known:
                if name not in out:
                    out.append(name)
            elif name not in self._warned:
                self._warned.add(name)
                log.warning(
                    "%s %s/%s: annotation %s names unknown notification provider %r; ignored",
                    n.kind,
                    n.namespace,
                    n.name,
                    ANNOTATION_NOTIFY,
                    name[:63],
                )
        return out


def matches(route: Route, n: Notification) -> bool:
    m = route.match
    if m.namespaces is not None and n.namespace not in m.namespaces:
        return False
    if m.selector is not None and not m.selector.matches(dict(n.labels)):
        return False
    return m.outcomes is None or n.outcome in m.outcomes


def annotated_providers(n: Notification) -> list[str]:
    """Provider names in the HelmRelease's `helmrelease.dev/notify` annotation (comma separated)."""
    value = (n.annotations or {}).get(ANNOTATION_NOTIFY) or ""
    return [p.strip() for p in str(value).split(",") if p.strip()]


__all__ = ["ANNOTATION_NOTIFY", "Router", "annotated_providers", "matches"]
