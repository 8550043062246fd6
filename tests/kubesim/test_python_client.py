"""kubesim conformance, driven by the official Python client (`kubernetes`, sync flavour).

List-then-watch with bookmarks; 410 Gone for a too-old resourceVersion and the
re-list that recovers; optimistic concurrency (409 on a stale update); custom
resources through ApiextensionsV1Api and CustomObjectsApi, including the status
subresource and generation; Leases as leader election uses them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

WIDGETS = ("example.com", "v1", "widgets")


@pytest.fixture
def api(kubesim: Any) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(kubesim.kubeconfig_path))
    yield api_client
    api_client.close()


def cm(name: str, **data: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data=data)


def test_list_then_watch_with_bookmarks(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_config_map("default", cm("old", k="0"))
    listed = v1.list_namespaced_config_map("default")
    # Every namespace has the CA bundle ConfigMap.
    assert [i.metadata.name for i in listed.items] == ["kube-root-ca.crt", "old"]
    rv = listed.metadata.resource_version
    v1.create_namespaced_config_map("default", cm("a", k="1"))  # after the list: the watch must replay it

    seen: list[tuple[str, str]] = []
    bookmark_rvs: list[int] = []
    w = watch.Watch()
    for ev in w.stream(
        v1.list_namespaced_config_map,
        "default",
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=10,
    ):
        if ev["type"] == "BOOKMARK":
            bookmark_rvs.append(int(ev["raw_object"]["metadata"]["resourceVersion"]))
        else:
            obj = ev["object"]
            seen.append((ev["type"], obj.metadata.name))
            if ev["type"] == "ADDED" and obj.metadata.name == "a":
                v1.patch_namespaced_config_map("a", "default", {"data": {"k": "2"}})
            elif ev["type"] == "MODIFIED":
                assert obj.data == {"k": "2"}
                v1.delete_namespaced_config_map("a", "default")
        if bookmark_rvs and ("DELETED", "a") in seen:
            w.stop()
    assert seen == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")], "'old' predates the list's rv"
    assert bookmark_rvs and bookmark_rvs[-1] >= int(rv) + 3


def test_stale_resource_version_is_gone_and_relist_recovers(api: client.ApiClient, kubesim: Any) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_config_map("default", cm("a", k="1"))
    old_rv = v1.list_namespaced_config_map("default").metadata.resource_version
    v1.patch_namespaced_config_map("a", "default", {"data": {"k": "2"}})
    kubesim.compact()

    # The client retries a 410 once by itself, then raises.
    with pytest.raises(ApiException) as gone:
        for _ev in watch.Watch().stream(
            v1.list_namespaced_config_map, "default", resource_version=old_rv, timeout_seconds=5
        ):
            pytest.fail("no event may be delivered from a compacted resourceVersion")
    assert gone.value.status == 410
    assert "Expired" in str(gone.value.reason)

    # Re-list, then watch from the fresh resourceVersion: the next change arrives.
    relisted = v1.list_namespaced_config_map("default")
    assert relisted.items[0].data == {"k": "2"}
    v1.patch_namespaced_config_map("a", "default", {"data": {"k": "3"}})
    w = watch.Watch()
    events = []
    for ev in w.stream(
        v1.list_namespaced_config_map,
        "default",
        resource_version=relisted.metadata.resource_version,
        timeout_seconds=5,
    ):
        events.append((ev["type"], ev["object"].metadata.name, ev["object"].data))
        w.stop()
    assert events == [("MODIFIED", "a", {"k": "3"})]


def test_forced_gone_error_event(api: client.ApiClient, kubesim: Any) -> None:
    """A raw watch sees the 410 as an ERROR event carrying an Expired Status."""
    v1 = client.CoreV1Api(api)
    rv = v1.list_namespaced_config_map("default").metadata.resource_version
    kubesim.force_gone(1)
    resp = v1.list_namespaced_config_map(
        "default", watch=True, resource_version=rv, timeout_seconds=5, _preload_content=False
    )
    lines = [line for line in resp.read().decode().splitlines() if line]
    assert len(lines) == 1
    ev = json.loads(lines[0])
    assert ev["type"] == "ERROR"
    assert (ev["object"]["code"], ev["object"]["reason"]) == (410, "Expired")
    # Only one watch was forced: the same resourceVersion works again.
    v1.create_namespaced_config_map("default", cm("x", k="1"))
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5):
        assert (ev["type"], ev["object"].metadata.name) == ("ADDED", "x")
        w.stop()


def test_optimistic_concurrency(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    created = v1.create_namespaced_config_map("default", cm("c", k="1"))
    fresh = v1.read_namespaced_config_map("c", "default")
    fresh.data = {"k": "2"}
    updated = v1.replace_namespaced_config_map("c", "default", fresh)
    assert updated.data == {"k": "2"}
    assert int(updated.metadata.resource_version) > int(created.metadata.resource_version)

    stale = created
    stale.data = {"k": "stale"}
    with pytest.raises(ApiException) as conflict:
        v1.replace_namespaced_config_map("c", "default", stale)
    assert conflict.value.status == 409
    assert "the object has been modified" in conflict.value.body
    assert v1.read_namespaced_config_map("c", "default").data == {"k": "2"}

    # Without a resourceVersion, the update is unconditional.
    stale.metadata.resource_version = None
    assert v1.replace_namespaced_config_map("c", "default", stale).data == {"k": "stale"}


def create_widget_crd(api: client.ApiClient, eventually: Callable[..., Any]) -> None:
    ext = client.ApiextensionsV1Api(api)
    ext.create_custom_resource_definition(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
                "scope": "Namespaced",
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "subresources": {"status": {}},
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                ],
            },
        }
    )

    def established() -> bool:
        crd = ext.read_custom_resource_definition("widgets.example.com")
        conds = (crd.status.conditions if crd.status else None) or []
        return any(c.type == "Established" and c.status == "True" for c in conds)

    eventually(established, what="the CRD to be Established")


def test_custom_objects(api: client.ApiClient, eventually: Callable[..., Any]) -> None:
    create_widget_crd(api, eventually)
    co = client.CustomObjectsApi(api)
    g, v, plural = WIDGETS
    created = co.create_namespaced_custom_object(
        g,
        v,
        "default",
        plural,
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 1},
            "status": {"phase": "ignored on create"},
        },
    )
    assert created["metadata"]["generation"] == 1
    assert "status" not in created
    assert co.get_namespaced_custom_object(g, v, "default", plural, "w")["spec"] == {"size": 1}
    listed = co.list_namespaced_custom_object(g, v, "default", plural)
    assert listed["kind"] == "WidgetList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["w"]

    st = co.patch_namespaced_custom_object_status(
        g, v, "default", plural, "w", {"status": {"phase": "Ready"}}
    )
    assert st["status"] == {"phase": "Ready"}
    assert st["metadata"]["generation"] == 1

    patched = co.patch_namespaced_custom_object(g, v, "default", plural, "w", {"spec": {"size": 2}})
    assert patched["spec"] == {"size": 2}
    assert patched["metadata"]["generation"] == 2
    assert patched["status"] == {"phase": "Ready"}

    # Metadata-only changes do not bump the generation either.
    labelled = co.patch_namespaced_custom_object(
        g, v, "default", plural, "w", {"metadata": {"labels": {"a": "b"}}}
    )
    assert labelled["metadata"]["generation"] == 2
    assert int(labelled["metadata"]["resourceVersion"]) > int(patched["metadata"]["resourceVersion"])

    co.delete_namespaced_custom_object(g, v, "default", plural, "w")
    with pytest.raises(ApiException) as missing:
        co.get_namespaced_custom_object(g, v, "default", plural, "w")
    assert missing.value.status == 404


def test_lease_update_and_conflict(api: client.ApiClient) -> None:
    coord = client.CoordinationV1Api(api)
    now = dt.datetime.now(dt.UTC)
    lease = coord.create_namespaced_lease(
        "default",
        client.V1Lease(
            metadata=client.V1ObjectMeta(name="leader"),
            spec=client.V1LeaseSpec(
                holder_identity="a", lease_duration_seconds=15, acquire_time=now, renew_time=now
            ),
        ),
    )
    assert lease.spec.holder_identity == "a"
    assert lease.spec.renew_time is not None

    later = now + dt.timedelta(seconds=5)
    lease.spec.holder_identity = "b"
    lease.spec.renew_time = later
    lease.spec.lease_transitions = 1
    taken = coord.replace_namespaced_lease("leader", "default", lease)
    assert taken.spec.holder_identity == "b"
    assert taken.spec.lease_transitions == 1
    assert abs((taken.spec.renew_time - later).total_seconds()) < 1e-3

    lease.spec.holder_identity = "c"  # still carries the pre-update resourceVersion
    with pytest.raises(ApiException) as conflict:
        coord.replace_namespaced_lease("leader", "default", lease)
    assert conflict.value.status == 409
    assert coord.read_namespaced_lease("leader", "default").spec.holder_identity == "b"


def test_custom_object_watch_and_finalizer(api: client.ApiClient, eventually: Callable[..., Any]) -> None:
    """A controller's finalizer: deletion only marks the object; dropping the finalizer deletes it."""
    create_widget_crd(api, eventually)
    co = client.CustomObjectsApi(api)
    g, v, plural = WIDGETS
    co.create_namespaced_custom_object(
        g,
        v,
        "default",
        plural,
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w", "finalizers": ["helmrelease.dev/finalizer"]},
            "spec": {"size": 1},
        },
    )
    rv = co.list_namespaced_custom_object(g, v, "default", plural)["metadata"]["resourceVersion"]

    co.delete_namespaced_custom_object(g, v, "default", plural, "w")
    seen = []
    w = watch.Watch()
    for ev in w.stream(
        co.list_namespaced_custom_object, g, v, "default", plural, resource_version=rv, timeout_seconds=5
    ):
        obj = ev["object"]
        seen.append(
            (ev["type"], bool(obj["metadata"].get("deletionTimestamp")), obj["metadata"].get("finalizers"))
        )
        if ev["type"] == "MODIFIED" and obj["metadata"].get("deletionTimestamp"):
            co.patch_namespaced_custom_object(
                g, v, "default", plural, "w", {"metadata": {"finalizers": None}}
            )
        if ev["type"] == "DELETED":
            w.stop()
    assert seen == [("MODIFIED", True, ["helmrelease.dev/finalizer"]), ("DELETED", True, None)]
    assert co.list_namespaced_custom_object(g, v, "default", plural)["items"] == []


def test_scale_subresource(api: client.ApiClient, eventually: Callable[..., Any]) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(
        "default",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "nginx"}]},
                },
            },
        },
    )
    scale = eventually(
        lambda: (s := apps.read_namespaced_deployment_scale("web", "default")).status.replicas == 1 and s,
        what="the deployment controller to report 1 replica",
    )
    assert (scale.kind, scale.spec.replicas, scale.status.selector) == ("Scale", 1, "app=web")

    # The deployment controller keeps writing status while its pod starts, so a replace carrying
    # the resourceVersion it read may meet a 409, as on a real cluster: read again and retry
    # (client-go's RetryOnConflict).
    for _ in range(20):
        scale = apps.read_namespaced_deployment_scale("web", "default")
        scale.spec.replicas = 4
        try:
            replaced = apps.replace_namespaced_deployment_scale("web", "default", scale)
            break
        except client.exceptions.ApiException as e:
            if e.status != 409:
                raise
    assert replaced.spec.replicas == 4
    assert (
        apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 2}}).spec.replicas == 2
    )
    dep = apps.read_namespaced_deployment("web", "default")
    assert dep.spec.replicas == 2
    assert dep.spec.template.spec.containers[0].image == "nginx", "a Scale write must only change replicas"
    assert dep.spec.selector.match_labels == {"app": "web"}

    scale.spec.replicas = 9  # scale still carries the resourceVersion of the first read
    with pytest.raises(ApiException) as conflict:
        apps.replace_namespaced_deployment_scale("web", "default", scale)
    assert conflict.value.status == 409


def test_paginated_list(api: client.ApiClient, kubesim: Any) -> None:
    v1 = client.CoreV1Api(api)
    for i in range(5):
        v1.create_namespaced_config_map("default", cm(f"c{i}"))
    first = v1.list_namespaced_config_map("default", limit=2)
    assert [i.metadata.name for i in first.items] == ["c0", "c1"]
    assert first.metadata.remaining_item_count == 4  # c2-c4 and the namespace's kube-root-ca.crt
    v1.create_namespaced_config_map("default", cm("a"))  # sorts before the first page: must not shift pages
    names = [i.metadata.name for i in first.items]
    token = first.metadata._continue
    while token:
        page = v1.list_namespaced_config_map("default", limit=2, _continue=token)
        assert page.metadata.resource_version == first.metadata.resource_version
        names += [i.metadata.name for i in page.items]
        token = page.metadata._continue
    assert names == ["c0", "c1", "c2", "c3", "c4", "kube-root-ca.crt"]

    # A continue token older than the compacted history is expired: the client must re-list.
    stale = v1.list_namespaced_config_map("default", limit=2).metadata._continue
    v1.create_namespaced_config_map("default", cm("z"))
    kubesim.compact()
    with pytest.raises(ApiException) as gone:
        v1.list_namespaced_config_map("default", limit=2, _continue=stale)
    assert gone.value.status == 410


def test_events_v1_and_core_events_are_one_resource(api: client.ApiClient, kubectl: Any) -> None:
    """Controllers write events.k8s.io/v1 Events; `kubectl describe` reads core v1 Events: one resource."""
    v1, ev1 = client.CoreV1Api(api), client.EventsV1Api(api)
    target = v1.create_namespaced_config_map("default", cm("web"))
    ref = client.V1ObjectReference(
        api_version="v1", kind="ConfigMap", name="web", namespace="default", uid=target.metadata.uid
    )
    now = dt.datetime.now(dt.UTC)
    created = ev1.create_namespaced_event(
        "default",
        client.EventsV1Event(
            metadata=client.V1ObjectMeta(name="web.1"),
            regarding=ref,
            reason="InstallSucceeded",
            note="installed chart demo 1.2.3",
            type="Normal",
            action="Install",
            event_time=now,
            reporting_controller="helmrelease-controller",
            reporting_instance="helmrelease-controller-0",
        ),
    )
    assert created.regarding.name == "web"

    # Read through core v1, selected the way `kubectl describe` selects them.
    (core,) = v1.list_namespaced_event(
        "default", field_selector=f"involvedObject.name=web,involvedObject.uid={target.metadata.uid}"
    ).items
    assert (core.metadata.name, core.reason, core.message) == (
        "web.1",
        "InstallSucceeded",
        "installed chart demo 1.2.3",
    )
    assert core.involved_object.kind == "ConfigMap"
    assert core.reporting_component == "helmrelease-controller"

    # Written through core v1, read through events.k8s.io/v1.
    v1.create_namespaced_event(
        "default",
        client.CoreV1Event(
            metadata=client.V1ObjectMeta(name="web.2"),
            involved_object=ref,
            reason="UpgradeFailed",
            message="timed out",
            type="Warning",
            count=3,
            source=client.V1EventSource(component="helm"),
            event_time=now,
            action="Upgrade",
            reporting_component="helm",
            reporting_instance="helm-1",
        ),
    )
    both = {e.metadata.name: e for e in ev1.list_namespaced_event("default").items}
    assert sorted(both) == ["web.1", "web.2"]
    assert (both["web.2"].note, both["web.2"].deprecated_count) == ("timed out", 3)
    assert both["web.2"].deprecated_source.component == "helm"
    assert both["web.2"].regarding.uid == target.metadata.uid
    assert [
        e.metadata.name
        for e in ev1.list_namespaced_event("default", field_selector="reason=UpgradeFailed").items
    ] == ["web.2"]

    described = kubectl("describe", "configmap", "web")
    events = described[described.index("Events:") :]
    assert "InstallSucceeded" in events and "installed chart demo 1.2.3" in events
    assert "UpgradeFailed" in events


def test_metadata_only_list_and_watch(kubesim: Any) -> None:
    """PartialObjectMetadata: what a controller uses to watch Secrets without holding their data."""
    import urllib.request

    req = urllib.request.Request(
        kubesim.url + "/api/v1/namespaces/default/secrets",
        data=json.dumps({"metadata": {"name": "s"}, "stringData": {"k": "hush"}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(req, timeout=5)
    accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
    req = urllib.request.Request(
        kubesim.url + "/api/v1/namespaces/default/secrets", headers={"Accept": accept}
    )
    body = json.loads(urllib.request.urlopen(req, timeout=5).read())
    assert body["kind"] == "PartialObjectMetadataList"
    assert [i["metadata"]["name"] for i in body["items"]] == ["s"]
    assert "data" not in body["items"][0] and "hush" not in json.dumps(body)
    accept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
    req = urllib.request.Request(
        kubesim.url + "/api/v1/namespaces/default/secrets?watch=true&timeoutSeconds=1",
        headers={"Accept": accept},
    )
    line = urllib.request.urlopen(req, timeout=5).readline()
    event = json.loads(line)
    assert event["type"] == "ADDED" and event["object"]["kind"] == "PartialObjectMetadata"
    assert "data" not in event["object"]
