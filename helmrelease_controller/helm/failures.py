"""What a failed helm upgrade means for the user, when its reason is one a user must act on. Pure.

helm's own words are long and name the fix in another tool's vocabulary. Two failures every real
cluster produces get a one-line explanation instead, naming the object, the field and what to set
in the HelmRelease (short enough that a Stalled message keeps it whole; helm's full words stay in
the controller's log):

- a server-side apply conflict (helm 4 applies server-side by default): a field helm sets is owned
  by another field manager, e.g. after `kubectl scale` or `kubectl edit`. Taking it over is
  `spec.upgrade.forceConflicts: true` (helm 4 `--force-conflicts`) or a `force-at` token (a
  replace). helm 3 applies client-side and never meets this.
- a release too large for Helm's storage: helm keeps each revision (chart, values, rendered
  manifests, gzipped) in one Secret, which may hold at most 1 MiB.
- an immutable field (a Deployment's selector, a Job's template, a Service's clusterIP ...): the
  object must be replaced. helm 3's `--force` and helm 4's `--force-replace` only PUT it, which
  the API server refuses just the same, so a forced upgrade (`spec.upgrade.force: true` or a
  `force-at` token) deletes the object and upgrades again (reconcile/actions/replace.py).
- RBAC refused what helm asked for (helm acts as the HelmRelease's ServiceAccount when it has
  one: reconcile/tenancy.py): who, which verb on which resource, where.

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
    r'(?P<kind>[A-Za-z]+)(?:\.(?P<group>[\w.-]+))? "(?P<name>[^"]+)" is invalid: (?P<field>[^\s:]+): '
    r"(?:Invalid value: .*?: |Forbidden: )?(?:field is immutable|may not change once set|cannot change "
    r"roleRef|updates to statefulset spec for fields other than|spec is immutable)"
)
_TOO_LARGE = re.compile(
    r'Secret "sh\.helm\.release\.v1\.(?P<release>[^"]+)\.v(?P<version>\d+)" is invalid: data: Too long'
)
# The API server's words (apiserver/pkg/endpoints/handlers/responsewriters.forbiddenMessage).
_FORBIDDEN = re.compile(
    r'(?:(?P<kind>[\w.-]+)(?: "(?P<name>[^"]*)")? is forbidden: )?User "(?P<user>[^"]*)" cannot '
    r'(?P<verb>\w+) resource "(?P<resource>[^"]+)" in API group "(?P<group>[^"]*)" '
    r'(?:in the namespace "(?P<ns>[^"]+)"|at the cluster scope)'
)
SA_PREFIX = "system:serviceaccount:"
FORCE_CONFLICTS = "set spec.upgrade.forceConflicts: true or annotate helmrelease.dev/force-at to take it over"
REPLACE = "set spec.upgrade.force: true or annotate helmrelease.dev/force-at to replace it"


def explain(message: str, namespace: str) -> str:
    """`message` (helm's one-line reason) explained when it is a conflict or an immutable field;
    unchanged otherwise. `namespace`: the release's, for objects helm names
    without one."""
    return (
        conflict(message)
        or immutable(message, namespace)
        or too_large(message, namespace)
        or forbidden(message)
        or message
    )


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


def immutable(message: str, namespace: str) -> str:
    """`Kind/ns/name field is immutable: ...`, or "" when `message` names no immutable field."""
    m = _IMMUTABLE.search(message)
    if m is None:
        return ""
    where = "/".join(p for p in (m["kind"], namespace, m["name"]) if p)
    return f"{where} {m['field']} is immutable: the object must be replaced; {REPLACE}"


def immutable_object(message: str) -> tuple[str, str, str] | None:
    """(kind, API group, name) of the first object `message` says cannot change in place."""
    m = _IMMUTABLE.search(message)
    return (m["kind"], m["group"] or "", m["name"]) if m else None


def too_large(message: str, namespace: str) -> str:
    """The release record helm stores per revision (chart, values and rendered manifests, gzipped,
    in one Secret) is over the 1 MiB a Secret may hold; "" for any other failure."""
    m = _TOO_LARGE.search(message)
    if m is None:
        return ""
    return (
        f"release {namespace}/{m['release']} revision {m['version']} is too large for Helm's storage: its "
        "record (chart, values and rendered manifests, compressed) is over the 1 MiB a Secret may hold; "
        "make the chart or its values smaller"
    )


def forbidden(message: str) -> str:
    """`<who> cannot <verb> <resource.group> "<name>" in namespace <ns>: ...` when the API server
    refused helm for want of RBAC (as whoever helm acted as: reconcile/tenancy.py), else "".
    Not transient: nothing changes until somebody grants it (or changes the chart)."""
    m = _FORBIDDEN.search(message)
    if m is None:
        return ""
    resource, slash, sub = m["resource"].partition("/")
    what = resource + (f".{m['group']}" if m["group"] else "") + slash + sub  # deployments.apps/scale
    name = f' "{m["name"]}"' if m["name"] else ""
    where = f" in namespace {m['ns']}" if m["ns"] else " at the cluster scope"
    return f"{who(m['user'])} cannot {m['verb']} {what}{name}{where}: forbidden by RBAC"


def who(user: str | None) -> str:
    """An identity as people say it: `serviceaccount team-a/deployer`, `user "alice"`."""
    if user is None:
        return "the controller's own identity"
    if user.startswith(SA_PREFIX):
        ns, _, name = user[len(SA_PREFIX) :].partition(":")
        return f"serviceaccount {ns}/{name}"
    return f'user "{user}"'
