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
    answering = asyncio.Event()
    recovered: list[set[str]] = []
    probes = 0

    async def probe() -> None:
        nonlocal probes
        probes += 1
        if not answering.is_set():
            raise TransportError("connection refused")

    health = ApiHealth(probe, recovered.append, interval=0.01)
    assert not health.failed("a", ValueError("a bug"))  # not parked: the caller backs off as usual
    assert health.failed("a", TransportError("refused"))
    assert health.failed("b", ApiError(503, "ServiceUnavailable", "down"))
    assert health.down and health.outages == 1
    while probes < 3:
        await asyncio.sleep(0.01)
    assert recovered == []
    answering.set()
    while not recovered:
        await asyncio.sleep(0.01)
    assert recovered == [{"a", "b"}]
    await asyncio.sleep(0)
    assert not health.down
    await health.close()


async def test_an_answer_that_is_an_error_still_ends_the_outage() -> None:
    recovered: list[set[str]] = []

    async def probe() -> None:
        raise ApiError(403, "Forbidden", "cannot get customresourcedefinitions")

    health = ApiHealth(probe, recovered.append, interval=0.01)
    health.failed("a", TransportError("refused"))
    while not recovered:
        await asyncio.sleep(0.01)
    assert recovered == [{"a"}]
    await health.close()
