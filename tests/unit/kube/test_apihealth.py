"""ApiHealth: which failures mean "the API is gone", and parked keys coming back at once."""

from __future__ import annotations

import asyncio

import pytest

from helmrelease_controller.kube.apihealth import ApiHealth, api_unavailable
from helmrelease_controller.kube.client import ApiError, Conflict, NotFound, TransportError


@pytest.mark.parametrize(
    ("exc", "unavailable"),
    [
        (TransportError("GET /api: ClientConnectorError: connection refused"), True),
        (ApiError(503, "ServiceUnavailable", "down"), True),
        (ApiError(500, "InternalError", "etcd"), True),
        (ApiError(429, "TooManyRequests", "slow down"), True),
        (ApiError(504, "Timeout", "gateway"), True),
        (TimeoutError(), True),
        (ConnectionResetError(), True),
        (ApiError(403, "Forbidden", "no"), False),
        (NotFound(404, "NotFound", "gone"), False),
        (Conflict(409, "Conflict", "stale"), False),
        (ApiError(422, "Invalid", "bad"), False),
        (ValueError("a bug"), False),
    ],
)
def test_api_unavailable(exc: BaseException, unavailable: bool) -> None:
    assert api_unavailable(exc) is unavailable


async def test_parked_keys_come_back_together_when_the_probe_answers() -> None:
    answering, third_probe, back = asyncio.Event(), asyncio.Event(), asyncio.Event()
    recovered: list[set[str]] = []
    probes = 0

    async def probe() -> None:
        nonlocal probes
        probes += 1
        if probes == 3:
            third_probe.set()
        if not answering.is_set():
            raise TransportError("connection refused")

    def on_recovered(keys: set[str]) -> None:
        recovered.append(keys)
        back.set()

    health = ApiHealth(probe, on_recovered, interval=0.01)
    assert not health.failed("a", ValueError("a bug"))  # not parked: the caller backs off as usual
    assert health.failed("a", TransportError("refused"))
    assert health.failed("b", ApiError(503, "ServiceUnavailable", "down"))
    assert health.down and health.outages == 1
    await asyncio.wait_for(third_probe.wait(), 5)
    assert recovered == []  # three refused probes handed nothing back
    answering.set()
    await asyncio.wait_for(back.wait(), 5)
    assert recovered == [{"a", "b"}]
    assert not health.down  # the probe's task ended with the hand-back
    await health.close()


async def test_an_answer_that_is_an_error_still_ends_the_outage() -> None:
    recovered: asyncio.Queue[set[str]] = asyncio.Queue()

    async def probe() -> None:
        raise ApiError(403, "Forbidden", "cannot get customresourcedefinitions")

    health = ApiHealth(probe, recovered.put_nowait, interval=0.01)
    health.failed("a", TransportError("refused"))
    assert await asyncio.wait_for(recovered.get(), 5) == {"a"}
    await health.close()
