"""Object metadata validation: the 422s a real API server answers for malformed names and labels.

Only the rules every kind shares (apimachinery's ValidateObjectMeta: labels, the
256 KiB annotation limit of `limits`) plus the name rule of each kind (its
`ValidateXName`): most names, custom resources' too, are RFC 1123 subdomains;
Namespaces and StatefulSets RFC 1123 labels, Services RFC 1035 labels; RBAC
Roles, ClusterRoles and their bindings path segments (so `cert-manager:approve`
is a name); a CronJob leaves 11 characters for its Jobs' suffix; a
CustomResourceDefinition must be named `<plural>.<group>`. Label keys and values
follow the label syntax. Messages use
kube-apiserver's wording, so clients print what they would print against a real
cluster. Kind-specific field validation (container specs, ports ...) is not done.
Pure: the store turns the errors into a 422 Invalid.
"""

from __future__ import annotations

import re
from typing import Any

from . import limits
from .resources import ResourceType

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    f"'{_DNS1123_SUBDOMAIN}')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    f"and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    f"'{_DNS1123_LABEL}')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    f"character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    f"validation is '{_DNS1035_LABEL}')"
)
QUALIFIED_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    f"'{_QUALIFIED_NAME}')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    f"for validation is '({_QUALIFIED_NAME})?')"
)


# (group, kind) -> the name rule of kinds whose name is not an RFC 1123 subdomain (the default, also
# for custom resources): each kind's `ValidateXName` in kube-apiserver (pkg/apis/*/validation).
_LABEL, _DNS1035, _PATH_SEGMENT = "label", "dns1035", "path-segment"
NAME_RULES: dict[tuple[str, str], str] = {
    ("", "Namespace"): _LABEL,
    ("", "Service"): _DNS1035,
    ("apps", "StatefulSet"): _LABEL,
    ("rbac.authorization.k8s.io", "Role"): _PATH_SEGMENT,
    ("rbac.authorization.k8s.io", "ClusterRole"): _PATH_SEGMENT,
    ("rbac.authorization.k8s.io", "RoleBinding"): _PATH_SEGMENT,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _PATH_SEGMENT,
    ("apiregistration.k8s.io", "APIService"): _PATH_SEGMENT,  # "v1." names the core group's
}
# A CronJob's name leaves room for the 11-character suffix of its Jobs' names (DNS-1035 label max - 11).
CRONJOB_NAME_MAX = 52


def name_rule(rt: ResourceType) -> str:
    """ "subdomain", "label", "dns1035" or "path-segment": how kube-apiserver validates this kind's names."""
    return "subdomain" if rt.crd_name is not None else NAME_RULES.get((rt.group, rt.kind), "subdomain")


def _path_segment_errors(name: str) -> list[str]:
    """IsValidPathSegmentName: anything but "." and "..", without "/" or "%"."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _name_messages(rule: str, name: str) -> list[str]:
    if rule == _PATH_SEGMENT:
        return _path_segment_errors(name)
    pattern, limit, msg = {
        _LABEL: (_DNS1123_LABEL, 63, LABEL_MSG),
        _DNS1035: (_DNS1035_LABEL, 63, DNS1035_MSG),
    }.get(rule, (_DNS1123_SUBDOMAIN, 253, SUBDOMAIN_MSG))
    if not re.fullmatch(pattern, name):
        return [msg]
    return [f"must be no more than {limit} bytes"] if len(name) > limit else []


def _name_errors(rt: ResourceType, obj: dict[str, Any], name: str) -> list[str]:
    errors = [f'metadata.name: Invalid value: "{name}": {m}' for m in _name_messages(name_rule(rt), name)]
    if rt.kind == "CronJob" and rt.group == "batch" and not errors and len(name) > CRONJOB_NAME_MAX:
        errors.append(
            f'metadata.name: Invalid value: "{name}": must be no more than {CRONJOB_NAME_MAX} characters'
        )
    if rt.kind == "CustomResourceDefinition" and rt.group == "apiextensions.k8s.io":
        spec = obj.get("spec") or {}
        want = f"{(spec.get('names') or {}).get('plural', '')}.{spec.get('group', '')}"
        if name != want:
            errors.append(f'metadata.name: Invalid value: "{name}": must be spec.names.plural+"."+spec.group')
    return errors


def _label_errors(labels: Any) -> list[str]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return ["metadata.labels: Invalid value: must be a map of strings"]
    errors = []
    for key, value in labels.items():
        prefix, _, part = str(key).rpartition("/")
        if (
            not re.fullmatch(_QUALIFIED_NAME, part)
            or len(part) > 63
            or (prefix and (not re.fullmatch(_DNS1123_SUBDOMAIN, prefix) or len(prefix) > 253))
        ):
            errors.append(f'metadata.labels: Invalid value: "{key}": {QUALIFIED_MSG}')
        if not isinstance(value, str):
            errors.append(f'metadata.labels: Invalid value: "{key}": label values must be strings')
        elif len(value) > 63:
            errors.append(f'metadata.labels: Invalid value: "{value}": must be no more than 63 bytes')
        elif value and not re.fullmatch(_QUALIFIED_NAME, value):
            errors.append(f'metadata.labels: Invalid value: "{value}": {LABEL_VALUE_MSG}')
    return errors


def errors(rt: ResourceType, obj: dict[str, Any], creating: bool) -> list[str]:
    """The `field: Invalid value: ...` errors of this object's metadata (the name only on create)."""
    meta = obj.get("metadata") or {}
    name_errors = _name_errors(rt, obj, str(meta.get("name", ""))) if creating else []
    size_errors = limits.errors(rt.group, rt.kind, obj) if rt.crd_name is None else limits.errors("", "", obj)
    return name_errors + _label_errors(meta.get("labels")) + size_errors


def summary(errs: list[str]) -> str:
    """How kube-apiserver joins several field errors into one message."""
    return errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"


_CAUSE_REASONS = {
    "Invalid value": "FieldValueInvalid",
    "Forbidden": "FieldValueForbidden",
    "Too long": "FieldValueTooLong",
    "Required value": "FieldValueRequired",
    "Unsupported value": "FieldValueNotSupported",
    "Duplicate value": "FieldValueDuplicate",
}


def cause_reason(body: str) -> str:
    """The Status cause reason of a field error's body (`Forbidden: ...` -> FieldValueForbidden)."""
    return _CAUSE_REASONS.get(body.split(":", 1)[0], "FieldValueInvalid")
