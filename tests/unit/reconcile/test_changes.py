"""What a failed attempt changed (reconcile/changes.py), valuepaths.py and valuesfrom's secret
paths: table tests of the pure parts. The read of the baseline revision is covered on kubesim with
real helm in tests/integration/controller/test_what_changed.py."""

from __future__ import annotations

from typing import Any

import pytest

from helmrelease_controller.reconcile.changes import Deployed, baseline, describe
from helmrelease_controller.reconcile.helmstorage import ReleaseObservation, Revision
from helmrelease_controller.valuepaths import KeyPath, dotted, leaves, overlaps
from helmrelease_controller.values import PathValue
from helmrelease_controller.valuesfrom import secret_paths, secret_strings_of

OLD_SECRET = "old-pass-Q7v"
NEW_SECRET = "new-pass-Z3k"


def before(values: dict[str, Any], chart: str = "webapp", version: str = "1.1.0") -> Deployed:
    return Deployed(chart, version, values)


@pytest.mark.parametrize(
    ("old", "new", "lines"),
    [
        pytest.param(
            {"image": {"tag": "1.4.2"}},
            {"image": {"tag": "1.5.0"}},
            ["image.tag: 1.4.2 -> 1.5.0"],
            id="nested",
        ),
        pytest.param({}, {"replicas": 3}, ["replicas: (unset) -> 3"], id="added"),
        pytest.param({"debug": True}, {}, ["debug: true -> (unset)"], id="removed"),
        pytest.param({"a": 1}, {"a": 1}, [], id="unchanged"),
        pytest.param({"a": {"b": 1, "c": 2}}, {"a": {"c": 2, "b": 1}}, [], id="key order is no change"),
        pytest.param({"port": 1}, {"port": "1"}, ['port: 1 -> "1"'], id="int to string"),
        pytest.param({"on": True}, {"on": "true"}, ['on: true -> "true"'], id="bool to string"),
        pytest.param({"n": True}, {"n": 1}, ["n: true -> 1"], id="bool is no number"),
        pytest.param({"n": 1}, {"n": 1.0}, [], id="1 and 1.0 are one number (helm stores JSON)"),
        pytest.param({"n": 1.5}, {"n": 2.25}, ["n: 1.5 -> 2.25"], id="floats"),
        pytest.param({"s": ""}, {"s": "x"}, ['s: "" -> x'], id="empty string quoted"),
        pytest.param(
            {"v": "1.27"}, {"v": "yes"}, ['v: "1.27" -> "yes"'], id="strings that read as other types"
        ),
        pytest.param({"m": "a\nb"}, {}, ['m: "a\\nb" -> (unset)'], id="a newline stays on the line"),
        pytest.param({}, {"debug": None}, ["debug: (unset) -> null"], id="null deletes a default"),
        pytest.param(
            {"hosts": ["a", "b"]},
            {"hosts": ["a", "b", "c"]},
            ['hosts: ["a","b"] -> ["a","b","c"]'],
            id="lists",
        ),
        pytest.param({"l": [{"b": 1, "a": 2}]}, {"l": [{"a": 2, "b": 1}]}, [], id="list of maps, key order"),
        pytest.param({"l": [1]}, {"l": [True]}, ["l: [1] -> [true]"], id="list element type"),
        pytest.param(
            {"a": {"b": 1}}, {"a": 5}, ["a: (unset) -> 5", "a.b: 1 -> (unset)"], id="map replaced by a scalar"
        ),
        pytest.param({"a": {}}, {"a": {"b": 1}}, ["a: {} -> (unset)", "a.b: (unset) -> 1"], id="empty map"),
        pytest.param(
            {"podAnnotations": {"prometheus.io/scrape": "true"}},
            {"podAnnotations": {"prometheus.io/scrape": "false"}},
            ['podAnnotations.prometheus\\.io/scrape: "true" -> "false"'],
            id="a key with a dot is escaped as --set does",
        ),
        pytest.param(
            {"b": 1, "a": {"z": 1, "b": 1}, "a0": 1},
            {"b": 2, "a": {"z": 2, "b": 2}, "a0": 2},
            ["a.b: 1 -> 2", "a.z: 1 -> 2", "a0: 1 -> 2", "b: 1 -> 2"],
            id="sorted by path",
        ),
        pytest.param(
            {"text": "x" * 100},
            {"text": "y"},
            ["text: " + "x" * 59 + "… -> y"],
            id="a long value is cut to 60 characters",
        ),
    ],
)
def test_values_diff(old: dict[str, Any], new: dict[str, Any], lines: list[str]) -> None:
    assert describe(before(old), "webapp", "1.1.0", new) == tuple(lines)


@pytest.mark.parametrize(
    ("old", "new", "paths", "lines"),
    [
        pytest.param(
            {"db": {"password": OLD_SECRET}},
            {"db": {"password": NEW_SECRET}},
            {("db", "password")},
            ["db.password: *** -> ***"],
            id="a Secret's path changed: the old value is in no current Secret",
        ),
        pytest.param(
            {"db": {"password": OLD_SECRET}},
            {"db": {"password": "n3w"}},
            {("db", "password")},
            ["db.password: *** -> ***"],
            id="a Secret's path: the new value too short to redact, the old one in no current Secret",
        ),
        pytest.param(
            {"flags": {"beta": False}},
            {"flags": {"beta": True}},
            {("flags", "beta")},
            ["flags.beta: *** -> ***"],
            id="a bool from a Secret",
        ),
        pytest.param(
            {"db": {"password": OLD_SECRET}},
            {"db": {"password": NEW_SECRET}},
            {("db",)},
            ["db.password: *** -> ***"],
            id="under a path a Secret set",
        ),
        pytest.param(
            {"hosts": ["a", OLD_SECRET]},
            {"hosts": ["a", NEW_SECRET]},
            {("hosts", "x")},
            ["hosts: *** -> ***"],
            id="a list leaf holding a path a Secret set",
        ),
        pytest.param(
            {"token": OLD_SECRET}, {}, {("token",)}, ["token: *** -> (unset)"], id="removed: unset is shown"
        ),
        pytest.param({}, {"token": NEW_SECRET}, {("token",)}, ["token: (unset) -> ***"], id="added"),
        pytest.param(
            {"token": OLD_SECRET},
            {"token": NEW_SECRET},
            set(),
            ["token: *** -> ***"],
            id="by value: the new value is a secret string (no path known)",
        ),
        pytest.param(
            {"old": NEW_SECRET},
            {"old": "plain"},
            set(),
            ["old: *** -> ***"],
            id="by value: the old value is a current secret string",
        ),
        pytest.param(
            {"port": 5432},
            {"port": 6543},
            set(),
            ["port: *** -> ***"],
            id="a secret number",
        ),
        pytest.param(
            {"url": "a" * 50 + "-" + NEW_SECRET + "-tail"},
            {"url": "b"},
            set(),
            ["url: " + "a" * 50 + "-***-tail -> b"],
            id="a secret inside a value is redacted before the value is cut",
        ),
        pytest.param(
            {"url": "a" * 55 + NEW_SECRET + "b" * 20},
            {"url": "b"},
            set(),
            ["url: " + "a" * 55 + "***b… -> b"],
            id="no prefix of a secret survives the cut",
        ),
        pytest.param(
            {"image": "nginx:1.27", "token": OLD_SECRET},
            {"image": "nginx:1.28", "token": NEW_SECRET},
            {("token",)},
            ["image: nginx:1.27 -> nginx:1.28", "token: *** -> ***"],
            id="only the Secret's path is masked",
        ),
    ],
)
def test_secret_values_are_masked_on_both_sides(
    old: dict[str, Any], new: dict[str, Any], paths: set[KeyPath], lines: list[str]
) -> None:
    secrets = {NEW_SECRET, "5432", "6543"}
    got = describe(before(old), "webapp", "1.1.0", new, paths, secrets)
    assert got == tuple(lines)
    assert not any(
        s in line for s in (OLD_SECRET, NEW_SECRET, "5432", "6543", "new-pa", "n3w") for line in got
    )


@pytest.mark.parametrize(
    ("deployed", "chart", "version", "first"),
    [
        (before({}, "webapp", "1.1.0"), "webapp", "1.2.0", "chart: webapp 1.1.0 -> 1.2.0"),
        (before({}, "webapp", "1.1.0"), "api", "1.1.0", "chart: webapp 1.1.0 -> api 1.1.0"),
        (before({}, "webapp", "1.1.0"), "webapp", "1.1.0", "replicas: (unset) -> 2"),
        (None, "webapp", "1.2.0", "chart: webapp 1.2.0 (first install)"),
    ],
)
def test_chart_line_comes_first(deployed: Deployed | None, chart: str, version: str, first: str) -> None:
    got = describe(deployed, chart, version, {"replicas": 2})
    assert got[0] == first
    if deployed is None:
        assert got == (first,)  # a first install has no values diff


@pytest.mark.parametrize(
    ("changed", "lines"),
    [(9, 9), (10, 10), (11, 10), (30, 10)],
)
def test_many_paths_end_with_and_n_more(changed: int, lines: int) -> None:
    new = {f"k{i:02d}": i for i in range(changed)}
    got = describe(before({}), "webapp", "1.1.0", new)
    assert len(got) == lines
    if changed > 10:
        assert got[-1] == f"and {changed - 9} more"
        assert got[0] == "k00: (unset) -> 0" and got[8] == "k08: (unset) -> 8"
    with_chart = describe(before({}), "webapp", "1.2.0", {f"k{i:02d}": i for i in range(12)})
    assert with_chart[0].startswith("chart:") and with_chart[-1] == "and 4 more"


def test_deployed_from_release_json() -> None:
    release = {"chart": {"metadata": {"name": "webapp", "version": "1.0.0"}}, "config": {"a": 1}}
    assert Deployed.from_release(release) == Deployed("webapp", "1.0.0", {"a": 1})
    assert Deployed.from_release({"chart": {"metadata": {}}, "config": None}) == Deployed("", "", {})
    broken: list[Any] = [[], {"chart": "x", "config": [1]}, {"chart": {"metadata": 3}}]
    for release in broken:
        assert Deployed.from_release(release) == Deployed("", "", {})


def rev(version: int, status: str) -> Revision:
    return Revision("web", "apps", version, status, secret_name=f"sh.helm.release.v1.web.v{version}")


@pytest.mark.parametrize(
    ("statuses", "label", "expected"),
    [
        ([], "install", None),
        (["failed"], "install", None),
        (["uninstalled"], "install", None),
        (["deployed"], "upgrade", 1),
        (["superseded", "deployed", "failed"], "upgrade", 2),
        (["superseded", "failed", "failed"], "upgrade", 1),
        (["superseded", "deployed"], "test", 1),
        (["deployed"], "test", None),
    ],
)
def test_baseline_is_the_last_deployed_revision_before_the_attempt(
    statuses: list[str], label: str, expected: int | None
) -> None:
    obs = ReleaseObservation(tuple(rev(i + 1, s) for i, s in enumerate(statuses)))
    got = baseline(obs, label)
    assert (got.version if got else None) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, {}),
        ({"a": {"b": 1, "c": [1, {"d": 2}]}}, {("a", "b"): 1, ("a", "c"): [1, {"d": 2}]}),
        ({"a": {}, "n": None}, {("a",): {}, ("n",): None}),
    ],
)
def test_leaves(values: dict[str, Any], expected: dict[KeyPath, Any]) -> None:
    assert leaves(values) == expected


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("image", "tag"), "image.tag"),
        (("a.b", "c"), "a\\.b.c"),
        (("x[0]", "k=v,w", "back\\slash"), "x\\[0].k\\=v\\,w.back\\\\slash"),
        (("new\nline",), '"new\\nline"'),
    ],
)
def test_dotted_escapes_like_helm_set(path: KeyPath, text: str) -> None:
    assert dotted(path) == text


@pytest.mark.parametrize(
    ("path", "others", "expected"),
    [
        (("a", "b"), {("a", "b")}, True),
        (("a", "b"), {("a",)}, True),
        (("a",), {("a", "b")}, True),
        (("a", "b"), {("a", "c")}, False),
        (("ab",), {("a",)}, False),
        (("a",), set(), False),
    ],
)
def test_overlaps(path: KeyPath, others: set[KeyPath], expected: bool) -> None:
    assert overlaps(path, others) is expected


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        ([], set()),
        (
            [{"db": {"user": "u", "password": "p"}, "token": "t"}],
            {("db", "user"), ("db", "password"), ("token",)},
        ),
        ([PathValue("db.password", "s3cret")], {("db", "password")}),
        ([PathValue("a\\.b", "s3cret")], {("a.b",)}),
        ([PathValue("hosts[1]", "s3cret")], {("hosts",)}),
        ([PathValue("list[0].x", "s3cret")], {("list",)}),
        ([PathValue("p", "x,other=1")], {("p",), ("other",)}),
        ([PathValue("p", "{a,b}")], {("p",)}),
        ([{"a": 1}, PathValue("b.c", "2")], {("a",), ("b", "c")}),
    ],
)
def test_secret_paths_are_what_each_secret_set(
    sources: list[dict[str, Any] | PathValue], expected: set[KeyPath]
) -> None:
    assert secret_paths(sources) == expected


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        ([{"db": {"password": "s3cret"}, "port": 5432, "on": True}], {"s3cret", "5432"}),
        ([PathValue("db.password", "s3cret")], {"s3cret"}),
        ([PathValue("db.password", "'0123'")], {"'0123'", "0123"}),
        ([PathValue("pin", "007")], {"007"}),
        ([PathValue("p", "x,other=1234")], {"x,other=1234", "x", "1234"}),
    ],
)
def test_secret_strings_are_the_values_as_written_and_as_set(
    sources: list[dict[str, Any] | PathValue], expected: set[str]
) -> None:
    assert secret_strings_of(sources) == expected
