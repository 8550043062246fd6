"""A kubeconfig a tenant hands the controller (spec.kubeConfig.secretRef): read and made safe. Pure.

A HelmRelease can run its release in another cluster with a kubeconfig kept in a Secret of its
namespace (Flux's remote-cluster mode). Whoever writes that Secret chooses what the controller
does with it, so only the parts that say *where* the cluster is and *who* we are there are taken:
the current context's server, its CA, TLS server name and proxy, and a token, a client
certificate and key, or a user name and password, all as inline data. Refused, with one line
naming the field (never its value: the kubeconfig is a secret):

- `exec` and `auth-provider` users: they run programs in the controller's process (Flux refuses
  `exec` unless started with --insecure-kubeconfig-exec; this controller has no such flag);
- file paths (`certificate-authority`, `client-certificate`, `client-key`, `tokenFile`): they
  read the controller's own files, its ServiceAccount token among them;
- `insecure-skip-tls-verify: true` (Flux drops it unless --insecure-kubeconfig-tls);
- impersonation in the kubeconfig (`as`, `as-groups`, ...): spec.serviceAccountName says that.

What is kept becomes `Endpoint`; `Endpoint.kubeconfig()` is the kubeconfig helm is given (only
those fields, one context), so helm and the controller's own client see the same cluster as the
same user. Other contexts, clusters and users of the document are not used (Flux uses the current
context too). docs/remote-clusters.md has the rules and an example.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

# Flux's keys (fluxcd/pkg apis/meta KubeConfigReference): `value`, else `value.yaml`.
DEFAULT_KEYS = ("value", "value.yaml")

_FILE_FIELDS = {
    "cluster": {"certificate-authority": "certificate-authority-data"},
    "user": {
        "client-certificate": "client-certificate-data",
        "client-key": "client-key-data",
        "tokenFile": "token",
    },
}
_PROGRAM_FIELDS = ("exec", "auth-provider")
_IMPERSONATION_FIELDS = ("as", "as-uid", "as-groups", "as-user-extra")
_DATA_FIELDS = {
    "cluster": ("certificate-authority-data",),
    "user": ("client-certificate-data", "client-key-data"),
}
_NAME = "remote"  # the one cluster, user and context of the kubeconfig helm gets


class KubeConfigError(ValueError):
    """The kubeconfig cannot be used; str() is one line without any of its values."""


@dataclass(frozen=True)
class Endpoint:
    """The remote API server and our credentials there: all a client needs, nothing else."""

    server: str
    ca_data: str = ""  # base64 PEM, as in the kubeconfig
    tls_server_name: str = ""
    proxy_url: str = ""
    token: str = ""
    client_certificate_data: str = ""  # base64 PEM
    client_key_data: str = ""  # base64 PEM
    username: str = ""
    password: str = ""

    def kubeconfig(self) -> dict[str, Any]:
        """The kubeconfig helm is given: this endpoint only, one context, data inline."""
        cluster = {"server": self.server}
        for key, value in (
            ("certificate-authority-data", self.ca_data),
            ("tls-server-name", self.tls_server_name),
            ("proxy-url", self.proxy_url),
        ):
            if value:
                cluster[key] = value
        user = {
            key: value
            for key, value in (
                ("token", self.token),
                ("client-certificate-data", self.client_certificate_data),
                ("client-key-data", self.client_key_data),
                ("username", self.username),
                ("password", self.password),
            )
            if value
        }
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": _NAME, "cluster": cluster}],
            "users": [{"name": _NAME, "user": user}],
            "contexts": [{"name": _NAME, "context": {"cluster": _NAME, "user": _NAME}}],
            "current-context": _NAME,
        }

    @property
    def secrets(self) -> list[str]:
        """The strings to keep out of every message (helm's errors are redacted of them)."""
        return [s for s in (self.token, self.password, self.client_key_data) if s]


def from_secret(data: Mapping[str, str] | None, key: str | None, secret: str) -> bytes:
    """The kubeconfig bytes of a Secret's `data` (base64 values): `key`, else `value`, else
    `value.yaml` (Flux's defaults). `secret` (namespace/name) is for the message."""
    data = data or {}
    if key:
        if not data.get(key):
            raise KubeConfigError(f"Secret {secret} has no key {key!r} with data")
        chosen = key
    else:
        found = [k for k in DEFAULT_KEYS if data.get(k)]
        if not found:
            raise KubeConfigError(f"Secret {secret} has no key 'value' or 'value.yaml' with data")
        chosen = found[0]
    try:
        return base64.b64decode(data[chosen], validate=True)
    except (binascii.Error, ValueError):
        raise KubeConfigError(f"Secret {secret} key {chosen!r} is not base64") from None


def parse(raw: bytes | str) -> Endpoint:
    """The endpoint of a kubeconfig document's current context, or KubeConfigError saying which
    field is wrong or refused (see the module docstring)."""
    try:
        doc = yaml.safe_load(raw)
    except yaml.MarkedYAMLError as e:
        mark = f" at line {e.problem_mark.line + 1}" if e.problem_mark else ""
        raise KubeConfigError(f"not YAML{mark}: {e.problem or 'parse error'}") from None
    except yaml.YAMLError:
        raise KubeConfigError("not YAML") from None
    if not isinstance(doc, dict):
        raise KubeConfigError("not a kubeconfig (a mapping with clusters, users and contexts)")
    current = doc.get("current-context")
    if not current or not isinstance(current, str):
        raise KubeConfigError("no current-context")
    context = _named(doc, "contexts", "context", current, "current-context")
    cluster = _named(doc, "clusters", "cluster", context.get("cluster"), "current context's cluster")
    user_name = context.get("user")
    user = _named(doc, "users", "user", user_name, "current context's user") if user_name else {}
    _refuse(cluster, "cluster")
    _refuse(user, "user")
    return _endpoint(cluster, user)


def _named(doc: dict[str, Any], section: str, field: str, name: Any, what: str) -> dict[str, Any]:
    """The `field` mapping of the entry of `doc[section]` named `name`."""
    entries = doc.get(section) or []
    if not isinstance(entries, list):
        raise KubeConfigError(f"not a kubeconfig: {section} is not a list")
    for entry in entries:
        if isinstance(entry, dict) and entry.get("name") == name and name:
            body = entry.get(field)
            if body is None:
                return {}
            if not isinstance(body, dict):
                raise KubeConfigError(f"the {what} is not a mapping")
            return body
    raise KubeConfigError(f"the {what} is not in {section}")


def _refuse(body: dict[str, Any], kind: str) -> None:
    """KubeConfigError for the first field of the current `kind` (cluster, user) we refuse."""
    where = f"the current context's {kind}"
    for path_field, instead in _FILE_FIELDS[kind].items():
        if body.get(path_field):
            raise KubeConfigError(
                f"{where} has {path_field}, a file of the controller's: refused; use {instead}"
            )
    if kind == "user":
        for program in _PROGRAM_FIELDS:
            if body.get(program):
                raise KubeConfigError(
                    f"{where} has {program}, which runs a program in the controller: refused; "
                    "use a token or a client certificate"
                )
        for field in _IMPERSONATION_FIELDS:
            if body.get(field):
                raise KubeConfigError(f"{where} has {field}: refused; use spec.serviceAccountName")
    elif body.get("insecure-skip-tls-verify"):
        raise KubeConfigError(
            f"{where} has insecure-skip-tls-verify: refused; use certificate-authority-data"
        )
    for data_field in _DATA_FIELDS[kind]:
        value = body.get(data_field)
        if value and not _is_base64(value):
            raise KubeConfigError(f"{where}'s {data_field} is not base64")


def _endpoint(cluster: dict[str, Any], user: dict[str, Any]) -> Endpoint:
    server = cluster.get("server")
    if not isinstance(server, str) or urlsplit(server).scheme not in ("http", "https"):
        raise KubeConfigError("the current context's cluster has no http:// or https:// server")
    if not urlsplit(server).hostname:
        raise KubeConfigError("the current context's cluster server has no host")
    cert, key = user.get("client-certificate-data"), user.get("client-key-data")
    if bool(cert) != bool(key):
        raise KubeConfigError(
            "the current context's user needs both client-certificate-data and client-key-data"
        )
    if bool(user.get("username")) != bool(user.get("password")):
        raise KubeConfigError("the current context's user needs both username and password")
    return Endpoint(
        server=server.rstrip("/"),
        ca_data=_text(cluster, "certificate-authority-data"),
        tls_server_name=_text(cluster, "tls-server-name"),
        proxy_url=_text(cluster, "proxy-url"),
        token=_text(user, "token"),
        client_certificate_data=_text(user, "client-certificate-data"),
        client_key_data=_text(user, "client-key-data"),
        username=_text(user, "username"),
        password=_text(user, "password"),
    )


def _text(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise KubeConfigError(f"{field} is not a string")
    return value


def _is_base64(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        base64.b64decode("".join(value.split()), validate=True)  # line breaks are allowed
    except (binascii.Error, ValueError):
        return False
    return True
