"""The notifications configuration file: the documented example parses; bad files fail in one line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helmrelease_controller.notify.config import ConfigError, load_config, parse_config

DOC = Path(__file__).resolve().parents[3] / "docs" / "notifications.md"


def doc_example() -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    return blocks[0]


def test_documented_example_parses() -> None:
    c = parse_config(doc_example())
    assert c.cluster == "prod-eu"
    assert c.dedup_window == 600.0
    assert (c.timeout, c.max_retry_after, c.backoff_initial, c.backoff_max) == (10.0, 60.0, 1.0, 30.0)
    assert [p.name for p in c.providers] == ["platform-slack", "team-web-slack", "audit"]
    slack = c.provider("platform-slack")
    assert slack is not None and slack.channel == "#platform-deploys" and slack.username == "helmrelease"
    assert str(slack.secret_ref) == "helmrelease-system/slack-platform[url]"
    audit = c.provider("audit")
    assert audit is not None and audit.signing_secret_ref is not None
    assert audit.signing_secret_ref.key == "hmac-key"
    assert c.routes[2].match.selector is not None
    assert c.routes[2].match.selector.match_expressions[0].values == ["payments", "web"]


def test_defaults_and_empty_file() -> None:
    c = parse_config("")
    assert (c.providers, c.routes, c.queue_size, c.max_attempts, c.dedup_window) == ([], [], 1000, 5, 600.0)
    assert parse_config("timeout: 2.5\ndedupWindow: 30").timeout == 2.5


def test_load_config_from_file(tmp_path: Path) -> None:
    p = tmp_path / "n.yaml"
    p.write_text(doc_example())
    assert len(load_config(p).providers) == 3
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_config(tmp_path / "missing.yaml")


SLACK = "{name: s, type: slack, secretRef: {namespace: ns, name: n, key: url}}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "must be a mapping"),
        ("providers: [", "not valid YAML"),
        ("bogus: 1", "bogus: Extra inputs are not permitted"),
        (
            "providers: [{name: s, type: teams, secretRef: {namespace: a, name: b, key: c}}]",
            "providers.0.type",
        ),
        ("providers: [{name: s, type: slack}]", "providers.0.secretRef: Field required"),
        (
            "providers: [{name: s, type: slack, url: 'https://hooks.slack.com/x',"
            + " secretRef: {namespace: ns, name: n, key: url}}]",
            "providers.0.url: Extra inputs",
        ),
        (f"providers: [{SLACK}, {SLACK}]", "duplicate provider name(s): s"),
        (f"providers: [{SLACK}]\nroutes: [{{providers: [s, t]}}]", "routes[0]: unknown provider(s): t"),
        (f"providers: [{SLACK}]\nroutes: [{{providers: []}}]", "routes.0.providers"),
        (
            "providers: [{name: w, type: webhook, channel: '#x',"
            " secretRef: {namespace: a, name: b, key: c}}]",
            "channel and username are for slack providers",
        ),
        (
            "providers: [{name: s, type: slack, signingSecretRef: {namespace: a, name: b, key: c},"
            " secretRef: {namespace: a, name: b, key: c}}]",
            "signingSecretRef is for webhook providers",
        ),
        ("timeout: 5 minutes", "timeout: invalid duration"),
        ("timeout: 0", "timeout must be positive"),
        ("queueSize: 0", "queueSize"),
        (
            "routes: [{match: {selector: {matchExpressions: [{key: a, operator: In}]}}, providers: [x]}]",
            "operator In needs values",
        ),
        ("routes: [{match: {outcomes: [exploded]}, providers: [x]}]", "routes.0.match.outcomes.0"),
        (
            "providers: [{name: 'bad name', type: slack, secretRef: {namespace: a, name: b, key: c}}]",
            "providers.0.name",
        ),
    ],
)
def test_invalid_configs(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(text, where="n.yaml")
    assert message in str(e.value)
    assert str(e.value).startswith("n.yaml: ")
    assert "\n" not in str(e.value)
