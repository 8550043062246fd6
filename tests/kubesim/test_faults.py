"""kubesim's test hooks, as clients experience them: injected errors and latency, dropped
watches, and the request log that counts what a client did."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

CHART = str(Path(__file__).resolve().parent.parent / "charts" / "demo")


@pytest.fixture
def v1(kubesim: Any) -> Iterator[client.CoreV1Api]:
    api_client = config.new_client_from_config(config_file=str(kubesim.kubeconfig_path))
    yield client.CoreV1Api(api_client)
    api_client.close()


def test_injected_500_fails_kubectl_get_with_its_message(kubectl: Any, kubesim: Any) -> None:
    kubectl("create", "secret", "generic", "x", "--from-literal=k=v")
    kubesim.add_fault(verb="get", resource="secrets", status=500, message="etcdserver: request timed out")
    proc = kubectl.run("get", "secret", "x", check=False)
    assert proc.returncode == 1
    assert "etcdserver: request timed out" in proc.stderr
    # Only the matching verb and resource fail: listing secrets and reading configmaps still work.
    assert "secret/x" in kubectl("get", "secrets", "-o", "name")
    kubectl("create", "configmap", "y")
    kubectl("get", "configmap", "y")
    assert kubesim.requests.count(verb="get", resource="secrets", name="x", status=500) == 1

    kubesim.clear_faults()
    assert kubectl("get", "secret", "x", "-o", "name").strip() == "secret/x"


def test_fault_with_times_affects_only_the_first_requests(kubectl: Any, kubesim: Any) -> None:
    kubectl("create", "configmap", "c")
    fault = kubesim.add_fault(
        verb="get", resource="configmaps", name="c", status=503, times=1, message="try later"
    )
    first = kubectl.run("get", "configmap", "c", check=False)
    assert first.returncode == 1 and "try later" in first.stderr
    second = kubectl.run("get", "configmap", "c", "-o", "name", check=False)
    assert second.returncode == 0 and second.stdout.strip() == "configmap/c"
    assert fault.hits == 1
    statuses = [
        e.status for e in kubesim.requests.entries() if e.verb == "get" and e.resource == "configmaps"
    ]
    assert statuses == [503, 200]


def test_retry_after_makes_client_go_retry(kubectl: Any, kubesim: Any) -> None:
    kubectl("create", "configmap", "c")
    kubesim.add_fault(verb="get", resource="configmaps", status=503, times=1, retry_after=1)
    start = time.monotonic()
    assert kubectl("get", "configmap", "c", "-o", "name").strip() == "configmap/c"
    assert time.monotonic() - start >= 1.0
    statuses = [
        e.status for e in kubesim.requests.entries() if e.verb == "get" and e.resource == "configmaps"
    ]
    assert statuses == [503, 200]


def test_latency_fault_delays_only_matching_requests(v1: client.CoreV1Api, kubesim: Any) -> None:
    v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="slow")))
    fault = kubesim.add_fault(verb="get", resource="configmaps", status=0, latency=0.5)

    start = time.monotonic()
    assert v1.read_namespaced_config_map("slow", "default").metadata.name == "slow"
    assert time.monotonic() - start >= 0.5  # a lower bound: no load can make it fail
    assert fault.hits == 1

    v1.list_namespaced_config_map("default")
    assert fault.hits == 1  # the list did not match the fault, so it was not delayed


def test_error_fault_on_python_client_write(v1: client.CoreV1Api, kubesim: Any) -> None:
    kubesim.add_fault(method="POST", resource="configmaps", status=429, message="slow down", times=1)
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c"))
    with pytest.raises(ApiException) as err:
        v1.create_namespaced_config_map("default", body)
    assert err.value.status == 429 and "slow down" in err.value.body
    assert v1.create_namespaced_config_map("default", body).metadata.name == "c"


def test_dropped_watches_end_python_watch_stream(v1: client.CoreV1Api, kubesim: Any) -> None:
    events: list[str] = []
    ended = threading.Event()
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            for ev in watch.Watch().stream(v1.list_namespaced_config_map, "default", timeout_seconds=30):
                events.append(f"{ev['type']} {ev['object'].metadata.name}")
        except BaseException as e:  # the broken connection surfaces from the client
            errors.append(e)
        finally:
            ended.set()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    # The watch starts with what exists (the namespace's kube-root-ca.crt, as in every real
    # namespace); "a" is created once it is being watched, so it comes as a change, after.
    deadline = time.monotonic() + 5
    while "ADDED kube-root-ca.crt" not in events:
        assert time.monotonic() < deadline, "the watch never listed what exists"
        time.sleep(0.02)
    v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="a")))
    while "ADDED a" not in events:
        assert time.monotonic() < deadline, "the watch never delivered the ADDED event"
        time.sleep(0.02)
    assert not ended.is_set()

    assert kubesim.drop_watches() == 1
    assert ended.wait(5), "the watch stream did not end after drop_watches()"
    t.join(5)
    assert events == ["ADDED kube-root-ca.crt", "ADDED a"]
    # A dropped connection is not a clean end: the client sees a broken stream.
    assert errors, "the client should see the connection break"


def test_request_log_counts_helm_list(helm: Any, kubesim: Any) -> None:
    helm("install", "demo", CHART)
    since = time.time()
    out = helm("list", "-o", "json")
    assert '"name":"demo"' in out
    calls = kubesim.requests.entries(since)
    secret_lists = [e for e in calls if (e.verb, e.resource) == ("list", "secrets")]
    assert len(secret_lists) == 1
    (lst,) = secret_lists
    assert (lst.method, lst.namespace, lst.status) == ("GET", "default", 200)
    assert parse_qs(lst.query)["labelSelector"] == ["owner=helm"]
    # Everything helm list does: the server version, then one list of its release Secrets. Only reads.
    assert [(e.method, e.verb, e.path) for e in calls] == [
        ("GET", "get", "/version"),
        ("GET", "list", "/api/v1/namespaces/default/secrets"),
    ]
    assert all(e.user_agent.startswith(f"Helm/{helm.major}.") for e in calls)
