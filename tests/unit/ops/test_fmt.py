"""Pure formatting of the operations CLI: kubectl's ages, tables, colour, one-line text, the
kubeconfig context's namespace and the kind a command's words name."""

from __future__ import annotations

import datetime as dt

import pytest

from helmrelease_controller.ops.common import GITSYNCS, HELMRELEASES, context_namespace, kind_and_names
from helmrelease_controller.ops.fmt import GREEN, RED, RESET, age, human_duration, one_line, table, use_colour

NOW = dt.datetime(2026, 12, 4, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (150, "2m30s"),
        (599, "9m59s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 25 * 60, "3h25m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (50 * 3600, "2d2h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (731 * 86400, "2y1d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration_is_kubectls(seconds: float, shown: str) -> None:
    assert human_duration(seconds) == shown


@pytest.mark.parametrize(
    ("timestamp", "shown"),
    [
        ("2026-12-04T11:55:00Z", "5m"),
        ("2026-12-04T11:59:30+00:00", "30s"),
        ("2026-12-04T11:59:30", "30s"),  # no zone: UTC
        ("2026-12-04T11:59:59.123456Z", "0s"),
        (None, "<unknown>"),
        ("", "<unknown>"),
        ("yesterday", "<unknown>"),
    ],
)
def test_age(timestamp: str | None, shown: str) -> None:
    assert age(timestamp, NOW) == shown


@pytest.mark.parametrize(
    ("text", "limit", "shown"),
    [
        ("a\n  b\tc", 0, "a b c"),
        ("0123456789", 10, "0123456789"),
        ("0123456789", 8, "01234..."),
        ("", 5, ""),
    ],
)
def test_one_line(text: str, limit: int, shown: str) -> None:
    assert one_line(text, limit) == shown


def test_table_aligns_columns_three_spaces_apart_without_trailing_blanks() -> None:
    lines = table(["NAME", "READY", "STATUS"], [["web", "True", "ok"], ["longer-name", "False", ""]])
    assert lines == [
        "NAME          READY   STATUS",
        "web           True    ok",
        "longer-name   False",
    ]


def test_colour_marks_only_the_ready_cell_and_keeps_the_alignment() -> None:
    lines = table(["NAME", "READY", "AGE"], [["web", "True", "1m"], ["api", "False", "2m"]], colour=True)
    assert lines[1] == f"web    {GREEN}True{RESET}    1m"
    assert lines[2] == f"api    {RED}False{RESET}   2m"
    assert lines[0] == "NAME   READY   AGE"


@pytest.mark.parametrize(
    ("isatty", "environ", "colour"),
    [
        (True, {}, True),
        (False, {}, False),
        (True, {"NO_COLOR": "1"}, False),
        (True, {"NO_COLOR": ""}, True),  # no-color.org: set and non-empty
        (True, {"TERM": "dumb"}, False),
    ],
)
def test_colour_only_on_a_terminal(isatty: bool, environ: dict[str, str], colour: bool) -> None:
    assert use_colour(isatty, environ) is colour


CONFIG = {
    "current-context": "a",
    "contexts": [
        {"name": "a", "context": {"cluster": "c", "namespace": "apps"}},
        {"name": "b", "context": {"cluster": "c"}},
    ],
}


@pytest.mark.parametrize(
    ("config", "context", "namespace"),
    [
        (CONFIG, None, "apps"),
        (CONFIG, "a", "apps"),
        (CONFIG, "b", "default"),
        (CONFIG, "missing", "default"),
        ({}, None, "default"),
    ],
)
def test_context_namespace(config: dict[str, object], context: str | None, namespace: str) -> None:
    assert context_namespace(config, context) == namespace


@pytest.mark.parametrize(
    ("words", "resource", "names"),
    [
        ([], HELMRELEASES, []),
        (["web"], HELMRELEASES, ["web"]),
        (["hr", "web"], HELMRELEASES, ["web"]),
        (["helmrelease", "gitsync"], HELMRELEASES, ["gitsync"]),  # a HelmRelease named gitsync
        (["gitsync"], GITSYNCS, []),
        (["gs", "releases"], GITSYNCS, ["releases"]),
        (["GitSyncs", "a", "b"], GITSYNCS, ["a", "b"]),
    ],
)
def test_kind_and_names(words: list[str], resource: object, names: list[str]) -> None:
    assert kind_and_names(words) == (resource, names)
