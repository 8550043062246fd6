"""What a failed install, upgrade or test changed against the last deployed revision (issue 15
item 3): a few one-line statements for the failure event, the notification ("What changed") and
`status.lastFailure`, gathered by reconcile/explain.py.

    chart: webapp 1.1.0 -> 1.2.0
    db.password: *** -> ***
    image.tag: 1.4.2 -> 1.5.0
    replicas: (unset) -> 3
    and 4 more

- The baseline is the newest revision Helm's storage held as `deployed` or `superseded` before
  the attempt (a test: before the revision tested), read with one GET of its Secret. None (a first
  install, or every earlier revision failed): one line, `chart: webapp 1.2.0 (first install)`.
- `chart:` when the chart's name or version differs (`chart: a 1.0.0 -> b 2.0.0` for another name).
- The values compared are the user-supplied ones (what `valuesFrom` and `values` give: the stored
  release's `config` against the attempt's), not the chart's defaults: a path is a leaf of the
  values (maps are flattened; a list is one value), written as `helm --set` writes it, with a
  `\\` before a `.` in a key (valuepaths.py), sorted. A value is shown as YAML would read it:
  a string plainly unless that would read as another type (`"1"`, `"true"`, `""` are quoted:
  `1 -> "1"` is a change of type), others as compact JSON (`[1,2]`, `{"a":1}`), cut to 60
  characters with `…`; `(unset)` when the path is absent.
- Secret values are never shown: a path a `valuesFrom` Secret set (valuesfrom.py's
  `secret_paths`: each leaf of a Secret's document, or its `targetPath`) is `***` on both sides,
  as is one whose old or new value holds a secret string of this attempt; `(unset)` stays. Every
  value is redacted before it is cut. The gap: an old value from a Secret that this attempt no
  longer reads (nor holds the same string), as no record is kept of where past values came from.
- At most 10 lines: the first 9 and `and N more`.

Pure but for :func:`what_changed`, the one read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from ..kube.client import SECRETS, KubeClient
from ..redact import MIN_SECRET_LENGTH, redact, secret_strings
from ..valuepaths import KeyPath, dotted, leaves, overlaps
from .helmstorage import ReleaseObservation, Revision, decode_release

if TYPE_CHECKING:
    from .actions import Step

MAX_LINES = 10
VALUE_WIDTH = 60
PATH_WIDTH = 80
UNSET = "(unset)"
MASKED = "***"
YAML_PROBE = 200  # how much of a string _plain reads as YAML


class _Unset:
    """The value of a path a side does not set."""


_UNSET = _Unset()


@dataclass(frozen=True)
class Deployed:
    """What the baseline revision was released with."""

    chart: str
    version: str
    values: dict[str, Any]  # the user-supplied values (the release's `config`)

    @classmethod
    def from_release(cls, release: Any) -> Deployed:
        """From Helm's stored release JSON (helmstorage.decode_release); what is missing or not
        of its shape is empty (a broken record must not fail the reconcile)."""
        meta = _field(_field(release, "chart"), "metadata")
        config = _field(release, "config")
        return cls(str(meta.get("name", "")), str(meta.get("version", "")), dict(config))


def _field(obj: Any, key: str) -> Mapping[str, Any]:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def baseline(release: ReleaseObservation, label: str) -> Revision | None:
    """The revision to compare with: the newest once-deployed one before the attempt's (an install
    or upgrade makes a new revision; a test tests the latest)."""
    latest = release.latest
    if latest is None:
        return None
    return release.last_deployed_before(latest.version if label == "test" else latest.version + 1)


def describe(
    before: Deployed | None,
    chart: str,
    version: str,
    values: Mapping[str, Any],
    secret_paths: Iterable[KeyPath] = (),
    secrets: Iterable[str] = (),
) -> tuple[str, ...]:
    """The lines (see the module docstring): the chart, then the values, at most MAX_LINES."""
    if before is None:
        return (f"chart: {chart} {version} (first install)",)
    changed = chart_change(before, chart, version)
    lines = [f"chart: {changed}"] if changed else []
    diff = changed_leaves(before.values, values)
    room = MAX_LINES - len(lines)
    shown = diff if len(diff) <= room else diff[: room - 1]  # only the lines kept are rendered
    masks, hidden = frozenset(secret_paths), set(secrets)
    lines += [value_line(*leaf, masks, hidden) for leaf in shown]
    if len(shown) < len(diff):
        lines.append(f"and {len(diff) - len(shown)} more")
    return tuple(lines)


def chart_change(before: Deployed, chart: str, version: str) -> str:
    """`webapp 1.1.0 -> 1.2.0` (or `-> other 1.2.0`), "" when name and version are the same."""
    if (before.chart, before.version) == (chart, version):
        return ""
    new = version if before.chart == chart else f"{chart} {version}"
    return f"{before.chart} {before.version} -> {new}"


def changed_leaves(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[KeyPath, Any, Any]]:
    """`(path, old, new)` for every leaf that differs, sorted by path (`_UNSET`: not set)."""
    was, now = leaves(old), leaves(new)
    pairs = ((path, was.get(path, _UNSET), now.get(path, _UNSET)) for path in sorted(was.keys() | now.keys()))
    return [(path, a, b) for path, a, b in pairs if not same(a, b)]


def value_line(path: KeyPath, a: Any, b: Any, secret_paths: frozenset[KeyPath], secrets: set[str]) -> str:
    """`path: old -> new`, both sides `***` when the path or either value is secret."""
    masked = overlaps(path, secret_paths) or holds_secret(a, secrets) or holds_secret(b, secrets)
    name = _clip(redact(dotted(path), secrets), PATH_WIDTH)
    return f"{name}: {show(a, masked, secrets)} -> {show(b, masked, secrets)}"


def same(a: Any, b: Any) -> bool:
    """Equal as values: a bool is no number (`true` is not `1`), `1` and `1.0` are the same number
    (helm stores numbers as JSON), `1` and `"1"` differ."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def holds_secret(value: Any, secrets: set[str]) -> bool:
    """Whether a secret string (one redact() would hide) is, or is in, `value`."""
    if isinstance(value, _Unset):
        return False
    return any(len(s) >= MIN_SECRET_LENGTH and s in secrets for s in secret_strings(value))


def show(value: Any, masked: bool, secrets: set[str]) -> str:
    """One side of a line: `(unset)`, `***`, or the value (redacted, cut to VALUE_WIDTH)."""
    if isinstance(value, _Unset):
        return UNSET
    if masked:
        return MASKED
    if isinstance(value, str) and _plain(value):
        text = value
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return _clip(redact(text, secrets), VALUE_WIDTH)


def _plain(text: str) -> bool:
    """Whether a string can be shown unquoted: it reads back (as YAML) as that same string."""
    if not text or not text.isprintable() or text in (UNSET, MASKED) or " -> " in text:
        return False
    head = text[:YAML_PROBE]  # a string that reads as another type is short; a long one costs
    try:
        return bool(yaml.safe_load(head) == head)
    except yaml.YAMLError:
        return False


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


async def what_changed(storage: KubeClient, step: Step, label: str, secrets: set[str]) -> tuple[str, ...]:
    """The lines for one failed action: reads the baseline revision's Secret (one GET) from Helm's
    storage through `storage`; ApiError and a storage that cannot be decoded are the caller's."""
    before = None
    rev = baseline(step.facts.release, label)
    if rev is not None:
        name = rev.secret_name or f"sh.helm.release.v1.{rev.name}.v{rev.version}"
        before = Deployed.from_release(decode_release(await storage.get(SECRETS, rev.namespace, name)))
    attempt, target = step.attempt, step.target
    return describe(
        before, attempt.chart_name, attempt.chart_version, target.values, target.secret_paths, secrets
    )


__all__ = ["Deployed", "baseline", "describe", "what_changed"]
