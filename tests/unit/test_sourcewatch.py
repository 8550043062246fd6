"""SourceWatch: which HelmReleases a look at their chart source requeues."""

from __future__ import annotations

import asyncio

import pytest

from helmrelease_controller.sourcewatch import Group, Key, SourceWatch

WEB = Group("apps", "repository 1.x")
PINNED = Group("apps", "repository 1.0.0")


def watch_with(
    offers: dict[Group, str | Exception | None], groups: dict[Key, Group]
) -> tuple[SourceWatch, list[Key]]:
    requeued: list[Key] = []

    async def resolve(key: Key) -> str | None:
        offer = offers[groups[key]]
        if isinstance(offer, Exception):
            raise offer
        if offer == "hang":
            await asyncio.sleep(3600)
        return offer

    return SourceWatch(resolve, requeued.append, period=1.0, timeout=0.05), requeued


@pytest.mark.parametrize(
    ("offer", "expected"),
    [
        ("sha256:new", [("apps", "a"), ("apps", "b")]),  # news: both users of the source
        ("sha256:old", []),  # nothing new
        (None, []),  # the HelmRelease is gone or invalid
        (RuntimeError("index unreachable"), []),  # a failing source: its reconciles report it
        ("hang", []),  # a hanging source: given up after the timeout
    ],
)
def test_a_round_requeues_the_users_whose_chart_moved(
    offer: str | Exception | None, expected: list[Key]
) -> None:
    groups = {("apps", "a"): WEB, ("apps", "b"): WEB, ("apps", "p"): PINNED}
    watch, requeued = watch_with({WEB: offer, PINNED: "sha256:pinned"}, groups)
    for key, group in groups.items():
        watch.resolved(key, group, "sha256:pinned" if group == PINNED else "sha256:old")
    asyncio.run(watch.round())
    assert sorted(requeued) == expected


def test_a_user_that_already_has_the_news_is_not_requeued() -> None:
    groups = {("apps", "a"): WEB, ("apps", "b"): WEB}
    watch, requeued = watch_with({WEB: "sha256:new"}, groups)
    watch.resolved(("apps", "a"), WEB, "sha256:new")  # its own interval came first
    watch.resolved(("apps", "b"), WEB, "sha256:old")
    asyncio.run(watch.round())
    assert requeued == [("apps", "b")]


def test_news_is_told_once_even_when_the_reconcile_does_not_take_it() -> None:
    groups = {("apps", "a"): WEB}
    watch, requeued = watch_with({WEB: "sha256:new"}, groups)
    watch.resolved(("apps", "a"), WEB, "sha256:old")
    asyncio.run(watch.round())
    asyncio.run(watch.round())  # suspended, say: no reconcile reported the new digest
    assert requeued == [("apps", "a")]


def test_forgotten_and_moved_helmreleases() -> None:
    groups = {("apps", "a"): WEB, ("apps", "b"): PINNED}
    watch, requeued = watch_with({WEB: "sha256:new", PINNED: "sha256:new"}, groups)
    watch.resolved(("apps", "a"), WEB, "sha256:old")
    watch.resolved(("apps", "b"), WEB, "sha256:old")
    watch.resolved(("apps", "b"), PINNED, "sha256:new")  # its spec now pins a version
    watch.forget(("apps", "a"))  # deleted
    assert len(watch) == 1  # only PINNED has users left
    asyncio.run(watch.round())
    assert requeued == []
