"""What a failed helm upgrade means for the user, when its reason is one a user must act on. Pure.

helm's own words are long and name the fix in another tool's vocabulary. Two failures every real
cluster produces get a one-line explanation in front of helm's message, naming the object, the
field and what to set in the HelmRelease:

- a server-side apply conflict (helm 4 applies server-side by default): a field helm sets is owned
  by another field manager, e.g. after `kubectl scale` or `kubectl edit`. Taking it over is
  `spec.upgrade.forceConflicts: true` (helm 4 `--force-conflicts`) or a `force-at` token (a
  replace). helm 3 applies client-side and never meets this.
- an immutable field (a Deployment's selector, a Job's template, a Service's clusterIP ...): the
  object must be replaced. helm 4's `--force-replace` (`spec.upgrade.force: true` or a `force-at`
  token) deletes and recreates what cannot be updated in place; helm 3's `--force` only PUTs,
  which the API server refuses just the same, so on helm 3 the object must be deleted first.

The text helm 4 writes for a conflict, as the API server words it:
`conflict occurred while applying object apps/web apps/v1, Kind=Deployment: Apply failed with 1
conflict: conflict with "kubectl-scale" with subresource "scale" using apps/v1: .spec.replicas`
(several objects are joined by " && "; several fields of one manager are listed with "- ").
"""

from __future__ import annotations

import re

_CONFLICT = re.compile(
    r"conflict occurred while applying object (?:(?P<ns>[^/\s]+)/)?(?P<name>\S+) \S+, Kind=(?P<kind>\w+): "
    r"Apply failed with (?P<count>\d+) conflicts?: (?P<rest>.*?)(?= && conflict occurred|$)"
)
_MANAGER = re.compile(r'conflicts? with "(?P<manager>[^"]+)"(?: with subresource "[^"]+")? using [^\s:]+:')
# The API server's ways of saying "cannot be changed in place" (apps, batch, core, rbac validation).
_IMMUTABLE = re.compile(
    r'(?P<kind>[A-Za-z]+)(?:\.[\w.-]+)? "(?P<name>[^"]+)" is invalid: (?P<field>[^\s:]+): '
    r"(?:Invalid value: .*?: |Forbidden: )?(?:field is immutable|may not change once set|cannot change "
    r"roleRef|updates to statefulset spec for fields other than|spec is immutable)"
)
FORCE_CONFLICTS = "set spec.upgrade.forceConflicts: true or annotate helmrelease.dev/force-at to take it over"
REPLACE = "set spec.upgrade.force: true or annotate helmrelease.dev/force-at to replace it"
REPLACE_HELM3 = "helm 3 cannot replace it: delete it, then annotate helmrelease.dev/force-at to upgrade again"


def explain(message: str, namespace: str, major: int = 4) -> str:
    """`message` (helm's one-line reason) with an explanation in front when it is a conflict or an
    immutable field; unchanged otherwise. `namespace`: the release's, for objects helm names
    without one; `major`: helm's major version (what can replace an object differs)."""
    why = conflict(message) or immutable(message, namespace, major)
    return f"{why} ({message})" if why else message


def conflict(message: str) -> str:
    """`Kind/ns/name .field is owned by manager: ...`, or "" when `message` is no apply conflict."""
    m = _CONFLICT.search(message)
    if m is None:
        return ""
    rest = m["rest"]
    owner = _MANAGER.search(rest)
    fields = [t for t in rest.split() if t.startswith(".")]
    where = "/".join(p for p in (m["kind"], m["ns"], m["name"]) if p)
    what = ", ".join(fields[:3]) + (f" and {len(fields) - 3} more" if len(fields) > 3 else "")
    verb = "are" if len(fields) > 1 else "is"
    by = owner["manager"] if owner else "another field manager"
    more = message.count(" && conflict occurred")
    also = f" (and {more} more object{'s' if more > 1 else ''})" if more else ""
    owned = f"{where} {what or 'a field'} {verb} owned by {by}{also}"
    return f"{owned}: server-side apply conflict; {FORCE_CONFLICTS}"


def immutable(message: str, namespace: str, major: int = 4) -> str:
    """`Kind/ns/name field is immutable: ...`, or "" when `message` names no immutable field."""
    m = _IMMUTABLE.search(message)
    if m is None:
        return ""
    where = "/".join(p for p in (m["kind"], namespace, m["name"]) if p)
    fix = REPLACE if major >= 4 else REPLACE_HELM3
    return f"{where} {m['field']} is immutable: the object must be replaced; {fix}"
