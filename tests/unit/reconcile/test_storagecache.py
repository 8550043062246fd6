"""StorageCache: when a look at Helm's storage is answered from memory, and when it goes to the API."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from helmrelease_controller.reconcile.storagecache import StorageCache, slim


def secret(release: str, version: int, rv: str, ns: str = "apps", status: str = "deployed") -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"sh.helm.release.v1.{release}.v{version}",
            "namespace": ns,
            "resourceVersion": rv,
            "uid": f"uid-{release}-{version}",
            "labels": {"owner": "helm", "name": release, "version": str(version), "status": status},
            "managedFields": [{"manager": "helm"}],
        }
    }


class Api:
    """The API server's current storage Secrets, and the direct lists asked of it."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items, self.lists = items, 0

    async def list(self, res: Any, ns: str | None, label_selector: str = "", *a: Any, **kw: Any) -> Any:
        self.lists += 1
        name = label_selector.split("name=")[1]
        return [i for i in self.items if i["metadata"]["labels"]["name"] == name], "1"


def cache_with(api: Api, watched: list[dict[str, Any]], namespace: str | None = None) -> StorageCache:
    cache = StorageCache(api, namespace)  # type: ignore[arg-type]
    cache.informer._replace([slim(dict(s)) for s in watched], "1")
    cache.informer.synced.set()
    return cache


def look(cache: StorageCache, ns: str = "apps", release: str = "web", fresh: bool = False) -> list[int]:
    obs = asyncio.run(cache.observe(ns, release, fresh=fresh))
    return [r.version for r in obs.revisions]


def test_memory_answers_once_a_direct_look_confirmed_it() -> None:
    api = Api([secret("web", 1, "10"), secret("web", 2, "11")])
    cache = cache_with(api, api.items)
    assert look(cache) == [1, 2] and api.lists == 1  # the first look at a release goes to the API
    assert look(cache) == [1, 2] and look(cache) == [1, 2]
    assert (api.lists, cache.hits) == (1, 2)


def test_a_lagging_watch_is_not_trusted() -> None:
    api = Api([secret("web", 1, "10")])
    cache = cache_with(api, api.items)
    look(cache)
    api.items.append(secret("web", 2, "11"))  # our helm wrote revision 2
    assert look(cache, fresh=True) == [1, 2]  # the look after an action
    assert look(cache) == [1, 2] and api.lists == 3  # the watch has not delivered revision 2 yet
    cache.informer._apply("ADDED", secret("web", 2, "11"))
    assert look(cache) == [1, 2] and api.lists == 3  # caught up: memory again


def test_a_change_behind_our_back_is_looked_at_directly() -> None:
    api = Api([secret("web", 1, "10"), secret("web", 2, "11")])
    cache = cache_with(api, api.items)
    look(cache)
    rolled_back = secret("web", 3, "12")  # someone ran helm rollback
    api.items.append(rolled_back)
    cache.informer._apply("ADDED", rolled_back)
    assert look(cache) == [1, 2, 3] and api.lists == 2
    assert look(cache) == [1, 2, 3] and api.lists == 2


def test_deleted_revisions_leave_memory() -> None:
    api = Api([secret("web", 1, "10"), secret("web", 2, "11")])
    cache = cache_with(api, api.items)
    look(cache)
    api.items.pop(0)
    cache.informer._apply("DELETED", secret("web", 1, "13"))
    assert look(cache) == [2] and api.lists == 2
    assert look(cache) == [2] and api.lists == 2


@pytest.mark.parametrize(
    ("scope", "ns", "synced", "lists"),
    [
        (None, "apps", True, 1),  # every namespace watched: memory
        ("apps", "apps", True, 1),  # the controller's namespace: memory
        ("apps", "other", True, 2),  # a storage namespace outside the watch: always direct
        (None, "apps", False, 2),  # the watch has not listed yet: direct
    ],
)
def test_scope_and_sync(scope: str | None, ns: str, synced: bool, lists: int) -> None:
    api = Api([secret("web", 1, "10", ns=ns)])
    cache = cache_with(api, api.items, namespace=scope)
    if not synced:
        cache.informer.synced.clear()
    look(cache, ns=ns)
    assert look(cache, ns=ns) == [1]
    assert api.lists == lists


def test_slim_keeps_what_a_look_reads() -> None:
    s = secret("web", 4, "99", status="failed")
    s["metadata"]["labels"].update({"helmrelease.dev/digest": "abc", "unrelated": "x"})
    meta = slim(s)["metadata"]
    assert meta["labels"] == {
        "owner": "helm",
        "name": "web",
        "version": "4",
        "status": "failed",
        "helmrelease.dev/digest": "abc",
    }
    assert (meta["name"], meta["resourceVersion"], meta["namespace"]) == (
        "sh.helm.release.v1.web.v4",
        "99",
        "apps",
    )
    assert "managedFields" not in meta


def test_after_an_action_memory_answers_once_the_watch_shows_the_new_revision_deployed() -> None:
    """After helm reported revision 2, the look waits for the watch instead of listing: the
    pending write is not enough, the deployed one is; and that view is then the confirmed one."""
    api = Api([secret("web", 1, "10")])
    cache = cache_with(api, api.items)
    look(cache)  # confirmed [1]

    async def scenario() -> tuple[list[int], int]:
        pending = asyncio.ensure_future(cache.observe("apps", "web", fresh=True, after=2))
        await asyncio.sleep(0)
        cache.informer._apply("ADDED", secret("web", 2, "11", status="pending-upgrade"))
        await asyncio.sleep(0)
        assert not pending.done()  # helm's first write of revision 2: not its last
        cache.informer._apply("MODIFIED", secret("web", 1, "12", status="superseded"))
        cache.informer._apply("MODIFIED", secret("web", 2, "13"))
        obs = await pending
        return [r.version for r in obs.revisions], api.lists

    versions, lists = asyncio.run(scenario())
    assert versions == [1, 2] and lists == 1  # no list after the action
    assert look(cache) == [1, 2] and api.lists == 1  # and the next no-op look is from memory too


def test_after_an_action_a_silent_watch_falls_back_to_one_list(monkeypatch: pytest.MonkeyPatch) -> None:
    from helmrelease_controller.reconcile import storagecache

    monkeypatch.setattr(storagecache, "SETTLE_WAIT", 0.01)
    api = Api([secret("web", 1, "10")])
    cache = cache_with(api, api.items)
    look(cache)
    api.items.append(secret("web", 2, "11"))  # written, but the watch never delivers it
    obs = asyncio.run(cache.observe("apps", "web", fresh=True, after=2))
    assert [r.version for r in obs.revisions] == [1, 2] and api.lists == 2
