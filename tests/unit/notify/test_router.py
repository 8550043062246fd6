"""Routing: all matching routes, criteria ANDed, the notify annotation, order and uniqueness."""

from __future__ import annotations

import logging

import pytest

from helmrelease_controller.notify import Notification, Router, parse_config

CONFIG = """
providers:
  - {name: platform, type: slack, secretRef: {namespace: s, name: platform, key: url}}
  - {name: web, type: slack, secretRef: {namespace: s, name: web, key: url}}
  - {name: pay, type: slack, secretRef: {namespace: s, name: pay, key: url}}
  - {name: audit, type: webhook, secretRef: {namespace: s, name: audit, key: url}}
routes:
  - providers: [platform]
  - match: {namespaces: [web, web-staging]}
    providers: [web]
  - match:
      selector:
        matchLabels: {tier: production}
        matchExpressions:
          - {key: team, operator: In, values: [pay]}
          - {key: experimental, operator: DoesNotExist}
    providers: [pay, platform]
  - match:
      namespaces: [web]
      outcomes: [failed, stalled]
      selector: {matchExpressions: [{key: tier, operator: NotIn, values: [dev]}]}
    providers: [audit]
"""


def n(
    ns: str = "web", outcome: str = "failed", labels: dict[str, str] | None = None, notify: str = ""
) -> Notification:
    return Notification(
        namespace=ns,
        name="app",
        outcome=outcome,
        labels=labels or {},
        annotations={"helmrelease.dev/notify": notify} if notify else {},
    )


@pytest.fixture
def router() -> Router:
    return Router(parse_config(CONFIG))


@pytest.mark.parametrize(
    ("note", "want"),
    [
        (n("other"), ["platform"]),
        (n("web"), ["platform", "web", "audit"]),
        (n("web", "recovered"), ["platform", "web"]),  # audit only takes failed/stalled
        (n("web", labels={"tier": "dev"}), ["platform", "web"]),  # NotIn dev
        (n("web-staging"), ["platform", "web"]),
        (n("x", labels={"tier": "production", "team": "pay"}), ["platform", "pay"]),  # platform once
        (n("x", labels={"tier": "production", "team": "pay", "experimental": ""}), ["platform"]),
        (n("x", labels={"tier": "staging", "team": "pay"}), ["platform"]),
        (n("x", labels={"team": "pay"}), ["platform"]),
        (n("other", notify="web, audit"), ["platform", "web", "audit"]),
        (n("web", notify="platform,web"), ["platform", "web", "audit"]),  # no duplicates
    ],
)
def test_routes(router: Router, note: Notification, want: list[str]) -> None:
    assert router.route(note) == want


def test_unknown_annotated_provider_is_ignored_with_one_warning(
    router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="helmrelease_controller.notify")
    assert router.route(n("other", notify="nope,web")) == ["platform", "web"]
    assert router.route(n("other", notify="nope")) == ["platform"]
    warnings = [r for r in caplog.records if "nope" in r.getMessage()]
    assert len(warnings) == 1


def test_no_routes_no_providers() -> None:
    r = Router(
        parse_config("providers: [{name: a, type: slack, secretRef: {namespace: s, name: n, key: k}}]")
    )
    assert r.route(n()) == []
    assert r.route(n(notify="a")) == ["a"]
