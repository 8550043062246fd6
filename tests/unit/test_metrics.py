"""The metrics contract: names, types, labels and values; forget(); the HTTP server and probes."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from helmrelease_controller.metrics import (
    HELM_ACTIONS,
    RECONCILE_RESULTS,
    Metrics,
    parse_addr,
    reconcile_result,
    release_state_of,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def scrape(m: Metrics) -> dict[str, tuple[str, dict[tuple[tuple[str, str], ...], float]]]:
    """family name -> (type, {sorted label items of a sample (name included): value})."""
    body, _ = m.exposition()
    out: dict[str, tuple[str, dict[tuple[tuple[str, str], ...], float]]] = {}
    for fam in text_string_to_metric_families(body.decode()):
        samples = {(("__name__", s.name), *sorted(s.labels.items())): s.value for s in fam.samples}
        out[fam.name] = (fam.type, samples)
    return out


def value(m: Metrics, sample: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(sample, labels)


def exposed_names(m: Metrics) -> dict[str, str]:
    """Documented-style names: counters with _total, others as is, with their types."""
    names = {}
    for fam, (typ, _samples) in scrape(m).items():
        names[fam + "_total" if typ == "counter" else fam] = typ
    return names


def documented() -> dict[str, tuple[str, list[str]]]:
    """name -> (type, labels) from the contract table in docs/metrics.md."""
    rows = {}
    for line in DOC.read_text().splitlines():
        m = re.match(r"^\| `(helmrelease_[a-z_]+)` \| (\w+) \|([^|]*)\|", line)
        if m:
            labels = re.findall(r"`(\w+)`", m.group(3))
            rows[m.group(1)] = (m.group(2), labels)
    return rows


def test_every_exposed_metric_is_documented_with_its_type_and_labels() -> None:
    m = Metrics()
    m.release_state("apps", "podinfo", ready=True, stalled=False, suspended=False)
    m.release_failure("apps", "podinfo", "upgrade")
    m.notification_providers(["slack"])
    docs = documented()
    exposed = exposed_names(m)
    assert set(exposed) == set(docs), set(exposed) ^ set(docs)
    for name, typ in exposed.items():
        assert docs[name][0] == typ, name
    # labels: every sample's label names (besides le) are the documented ones
    for fam, (typ, samples) in scrape(m).items():
        name = fam + "_total" if typ == "counter" else fam
        for key in samples:
            labels = sorted(k for k, _ in key if k not in ("__name__", "le"))
            assert labels == sorted(docs[name][1]), (name, labels)


def test_all_names_are_prefixed_and_no_created_series() -> None:
    body, content_type = Metrics().exposition()
    text = body.decode()
    assert content_type.startswith("text/plain; version=0.0.4")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert line.startswith("helmrelease_"), line
    assert "_created" not in text


def test_fixed_label_sets_start_at_zero() -> None:
    m = Metrics()
    for action in HELM_ACTIONS:
        for res in ("success", "failure"):
            assert value(m, "helmrelease_helm_actions_total", action=action, result=res) == 0
    for res in RECONCILE_RESULTS:
        assert value(m, "helmrelease_reconcile_duration_seconds_count", result=res) == 0
    assert value(m, "helmrelease_source_cache_hits_total", kind="oci") == 0
    assert value(m, "helmrelease_build_info", version="0.1.0") == 1


def test_reconcile_and_helm_actions() -> None:
    m = Metrics()
    m.reconcile_finished("success", 0.2)
    m.reconcile_finished("success", 0.3)
    m.reconcile_finished("bogus", 1.0)  # bounded cardinality
    m.helm_action("upgrade", False, 12.0)
    m.helm_action("Install", True, 3.0)
    assert value(m, "helmrelease_reconcile_duration_seconds_count", result="success") == 2
    assert value(m, "helmrelease_reconcile_duration_seconds_sum", result="success") == pytest.approx(0.5)
    assert value(m, "helmrelease_reconcile_duration_seconds_count", result="other") == 1
    assert value(m, "helmrelease_helm_actions_total", action="upgrade", result="failure") == 1
    assert value(m, "helmrelease_helm_actions_total", action="install", result="success") == 1
    assert (
        value(
            m,
            "helmrelease_helm_action_duration_seconds_bucket",
            action="upgrade",
            result="failure",
            le="10.0",
        )
        == 0
    )
    assert (
        value(
            m,
            "helmrelease_helm_action_duration_seconds_bucket",
            action="upgrade",
            result="failure",
            le="20.0",
        )
        == 1
    )


@pytest.mark.parametrize(
    ("action", "ok", "want"),
    [
        ("none", True, "success"),
        ("upgrade", True, "success"),
        ("upgrade", False, "failure"),
        ("source", False, "failure"),
        ("invalid", False, "failure"),
        ("wait", False, "requeue"),
        ("dependency", True, "requeue"),
        ("stall", False, "stalled"),
        ("suspended", True, "suspended"),
        ("finalize", True, "success"),
    ],
)
def test_reconcile_result_from_reconciler_result(action: str, ok: bool, want: str) -> None:
    assert reconcile_result(action, ok) == want
    assert want in RECONCILE_RESULTS


def test_release_gauges_and_forget() -> None:
    m = Metrics()
    m.release_state("apps", "podinfo", ready=False, stalled=True, suspended=False)
    m.release_state("apps", "other", ready=True, stalled=False, suspended=True)
    m.release_failure("apps", "podinfo", "upgrade")
    m.release_failure("apps", "podinfo", "upgrade")
    m.release_failure("apps", "podinfo", "source")
    assert value(m, "helmrelease_ready", namespace="apps", name="podinfo") == 0
    assert value(m, "helmrelease_stalled", namespace="apps", name="podinfo") == 1
    assert value(m, "helmrelease_suspended", namespace="apps", name="other") == 1
    assert value(m, "helmrelease_failures_total", namespace="apps", name="podinfo", action="upgrade") == 2
    m.forget("apps", "podinfo")
    m.forget("apps", "podinfo")  # idempotent
    m.forget("nope", "never-seen")
    text = m.exposition()[0].decode()
    assert 'name="podinfo"' not in text
    assert value(m, "helmrelease_ready", namespace="apps", name="other") == 1


def test_observe_object_reads_conditions_spec_and_annotation() -> None:
    obj = {
        "metadata": {"namespace": "apps", "name": "web", "annotations": {"helmrelease.dev/suspend": "TRUE"}},
        "spec": {},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "Stalled", "status": "False"}]
        },
    }
    assert release_state_of(obj) == (True, False, True)
    assert release_state_of({"metadata": {}, "spec": {"suspend": True}}) == (False, False, True)
    assert release_state_of({"status": {"conditions": [{"type": "Stalled", "status": "True"}]}}) == (
        False,
        True,
        False,
    )
    m = Metrics()
    m.observe_object(obj)
    assert value(m, "helmrelease_ready", namespace="apps", name="web") == 1
    assert value(m, "helmrelease_suspended", namespace="apps", name="web") == 1


def test_queue_helm_processes_sources_notifications_and_scrape_hooks() -> None:
    m = Metrics()
    state: dict[str, float] = {"depth": 3, "age": 4.5}
    m.on_scrape(lambda: m.queue(int(state["depth"]), state["age"]))

    def broken() -> None:
        raise RuntimeError("hook failed")

    m.on_scrape(broken)  # a broken hook does not break the scrape
    assert value(m, "helmrelease_workqueue_depth") == 0  # not sampled yet
    assert b"helmrelease_workqueue_depth 3.0" in m.exposition()[0]  # hooks run on each scrape
    assert value(m, "helmrelease_workqueue_depth") == 3
    state["depth"] = 0
    m.exposition()
    assert value(m, "helmrelease_workqueue_depth") == 0
    assert value(m, "helmrelease_workqueue_longest_waiting_seconds") == 4.5

    m.helm_processes(2, 5, waiting=3)
    assert value(m, "helmrelease_helm_slot_waiting") == 3
    m.helm_processes(1, 7)
    assert value(m, "helmrelease_helm_processes_running") == 1
    assert value(m, "helmrelease_helm_slot_waiting") == 0
    assert value(m, "helmrelease_helm_processes_started_total") == 7
    m.helm_processes(0, 1)  # a new runner counting from zero
    assert value(m, "helmrelease_helm_processes_started_total") == 8

    m.source_fetch("repository", True, 0.02, cache_hit=True)
    m.source_fetch("repository", False, 1.2)
    assert value(m, "helmrelease_source_cache_hits_total", kind="repository") == 1
    assert (
        value(m, "helmrelease_source_fetch_duration_seconds_count", kind="repository", result="failure") == 1
    )

    m.notification_providers(["team-a"])
    assert value(m, "helmrelease_notifications_failed_total", provider="team-a") == 0
    m.notification("team-a", "sent")
    m.notification("team-a", "dropped")
    m.notification("team-a", "exploded")  # ignored, logged
    assert value(m, "helmrelease_notifications_sent_total", provider="team-a") == 1
    assert value(m, "helmrelease_notifications_dropped_total", provider="team-a") == 1


def test_registries_are_independent() -> None:
    a, b = Metrics(), Metrics()
    a.helm_action("test", True, 1.0)
    assert value(a, "helmrelease_helm_actions_total", action="test", result="success") == 1
    assert value(b, "helmrelease_helm_actions_total", action="test", result="success") == 0


@pytest.mark.parametrize(
    ("addr", "want"),
    [
        (":8080", (None, 8080)),
        ("8080", (None, 8080)),
        ("127.0.0.1:9000", ("127.0.0.1", 9000)),
        ("localhost:0", ("localhost", 0)),
        ("[::1]:8080", ("::1", 8080)),
        ("0.0.0.0:8080", ("0.0.0.0", 8080)),
    ],
)
def test_parse_addr(addr: str, want: tuple[str | None, int]) -> None:
    assert parse_addr(addr) == want


@pytest.mark.parametrize(
    "addr", ["", ":", "host", "host:http", ":70000", "::1:80", "[::1]", "[]:80", "1.2.3.4:-1"]
)
def test_parse_addr_rejects(addr: str) -> None:
    with pytest.raises(ValueError, match="invalid metrics address"):
        parse_addr(addr)


async def test_serve_metrics_health_and_readiness() -> None:
    m = Metrics()
    m.helm_action("upgrade", True, 2.0)
    ready = {"v": False}

    def is_ready() -> bool:
        if ready["v"] is None:
            raise RuntimeError("boom")
        return bool(ready["v"])

    server = await m.serve("127.0.0.1:0", ready=is_ready)
    try:
        assert server.port > 0
        async with aiohttp.ClientSession() as s:
            async with s.get(server.url + "/metrics") as r:
                assert r.status == 200
                assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                text = await r.text()
            assert 'helmrelease_helm_actions_total{action="upgrade",result="success"} 1.0' in text
            async with s.get(
                server.url + "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
            ) as r:
                assert r.headers["Content-Type"].startswith("application/openmetrics-text")
                assert (await r.text()).rstrip().endswith("# EOF")
            async with s.get(server.url + "/healthz") as r:
                assert (r.status, await r.text()) == (200, "ok\n")
            async with s.get(server.url + "/readyz") as r:
                assert r.status == 503
            ready["v"] = True
            async with s.get(server.url + "/readyz") as r:
                assert r.status == 200
            ready["v"] = None  # type: ignore[assignment]
            async with s.get(server.url + "/readyz") as r:
                assert r.status == 503
            async with s.get(server.url + "/nope") as r:
                assert r.status == 404
    finally:
        await server.stop()
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientConnectionError):
            await s.get(server.url + "/healthz")


async def test_serve_without_readiness_callback_is_ready_and_port_in_use_raises() -> None:
    m = Metrics()
    server = await m.serve("127.0.0.1:0")
    try:
        async with aiohttp.ClientSession() as s, s.get(server.url + "/readyz") as r:
            assert r.status == 200
        with pytest.raises(OSError):
            await Metrics().serve(f"127.0.0.1:{server.port}")
    finally:
        await server.stop()


def test_release_gauges_expose_like_labelled_gauges_with_help_and_type() -> None:
    """The four per-HelmRelease gauges come from one collector (releasegauges.py); a scrape shows
    them as gauges with help text, one series per HelmRelease, turned on and off."""
    m = Metrics()
    obj = {
        "metadata": {"namespace": "apps", "name": "web"},
        "status": {"conditions": [{"type": "Drifted", "status": "True"}]},
    }
    m.observe_object(obj)
    text = m.exposition()[0].decode()
    assert "# TYPE helmrelease_drifted gauge" in text
    assert "# HELP helmrelease_ready 1 when the HelmRelease's Ready condition is True, else 0." in text
    assert 'helmrelease_drifted{name="web",namespace="apps"} 1.0' in text
    assert 'helmrelease_ready{name="web",namespace="apps"} 0.0' in text
    obj["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    m.observe_object(obj)
    assert value(m, "helmrelease_drifted", namespace="apps", name="web") == 0
    assert value(m, "helmrelease_ready", namespace="apps", name="web") == 1
    families = [ln.split()[2] for ln in text.splitlines() if ln.startswith("# TYPE helmrelease_")]
    order = ["helmrelease_ready", "helmrelease_stalled", "helmrelease_suspended", "helmrelease_drifted"]
    assert [f for f in families if f in order] == order
    assert families.index("helmrelease_drifted") < families.index("helmrelease_failures_total")
