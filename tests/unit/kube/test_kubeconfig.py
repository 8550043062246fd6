"""spec.kubeConfig.secretRef: which kubeconfigs a tenant may hand the controller, and the one-line
reason for each it may not (kube/kubeconfig.py; docs/remote-clusters.md). No reason may carry a
value of the kubeconfig: it is a secret."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
import yaml

from helmrelease_controller.kube import kubeconfig
from helmrelease_controller.kube.kubeconfig import Endpoint, KubeConfigError

SECRET_TOKEN = "s3cr3t-token-value"
PEM = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()
KEY = base64.b64encode(b"-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n").decode()


def config(
    cluster: dict[str, Any] | None = None, user: dict[str, Any] | None = None, **top: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "prod", "cluster": {"server": "https://prod.example:6443", **(cluster or {})}}],
        "users": [{"name": "ci", "user": {"token": SECRET_TOKEN} if user is None else user}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "ci", "namespace": "x"}}],
        "current-context": "prod",
    }
    doc.update(top)
    return doc


def parse(doc: Any) -> Endpoint:
    return kubeconfig.parse(doc if isinstance(doc, str) else yaml.safe_dump(doc))


ACCEPTED = [
    ("token", config(), Endpoint("https://prod.example:6443", token=SECRET_TOKEN)),
    (
        "client certificate, CA, TLS server name, proxy",
        config(
            {"certificate-authority-data": PEM, "tls-server-name": "api", "proxy-url": "http://proxy:3128"},
            {"client-certificate-data": PEM, "client-key-data": KEY},
        ),
        Endpoint(
            "https://prod.example:6443",
            ca_data=PEM,
            tls_server_name="api",
            proxy_url="http://proxy:3128",
            client_certificate_data=PEM,
            client_key_data=KEY,
        ),
    ),
    (
        "basic auth",
        config(user={"username": "u", "password": "p"}),
        Endpoint("https://prod.example:6443", username="u", password="p"),
    ),
    ("no user at all (anonymous)", config(user={}), Endpoint("https://prod.example:6443")),
    (
        "plain http, trailing slash",
        config({"server": "http://10.0.0.1:8080/"}),
        Endpoint("http://10.0.0.1:8080", token=SECRET_TOKEN),
    ),
    (
        "another context's exec user is never used",
        config(
            users=[
                {"name": "ci", "user": {"token": SECRET_TOKEN}},
                {"name": "dev", "user": {"exec": {"command": "sh"}}},
            ]
        ),
        Endpoint("https://prod.example:6443", token=SECRET_TOKEN),
    ),
    (
        "a CA split over lines",
        config({"certificate-authority-data": PEM[:10] + "\n" + PEM[10:]}),
        Endpoint("https://prod.example:6443", ca_data=PEM[:10] + "\n" + PEM[10:], token=SECRET_TOKEN),
    ),
]


@pytest.mark.parametrize(("doc", "want"), [(d, w) for _, d, w in ACCEPTED], ids=[i for i, _, _ in ACCEPTED])
def test_accepted(doc: dict[str, Any], want: Endpoint) -> None:
    assert parse(doc) == want


REFUSED = [
    (
        "exec",
        config(user={"exec": {"command": "/bin/sh", "args": ["-c", "cat /var/run/secrets/token"]}}),
        "the current context's user has exec, which runs a program in the controller: refused; "
        "use a token or a client certificate",
    ),
    (
        "auth-provider",
        config(user={"auth-provider": {"name": "gcp"}}),
        "the current context's user has auth-provider, which runs a program in the controller: refused",
    ),
    (
        "tokenFile",
        config(user={"tokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}),
        "the current context's user has tokenFile, a file of the controller's: refused; use token",
    ),
    (
        "client-certificate path",
        config(user={"client-certificate": "/etc/c.crt", "client-key-data": KEY}),
        "has client-certificate, a file of the controller's: refused; use client-certificate-data",
    ),
    (
        "client-key path",
        config(user={"client-certificate-data": PEM, "client-key": "/etc/c.key"}),
        "has client-key, a file of the controller's: refused; use client-key-data",
    ),
    (
        "certificate-authority path",
        config({"certificate-authority": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"}),
        "the current context's cluster has certificate-authority, a file of the controller's: refused; "
        "use certificate-authority-data",
    ),
    (
        "insecure-skip-tls-verify",
        config({"insecure-skip-tls-verify": True}),
        "has insecure-skip-tls-verify: refused; use certificate-authority-data",
    ),
    (
        "impersonation",
        config(user={"token": SECRET_TOKEN, "as": "system:admin"}),
        "has as: refused; use spec.serviceAccountName",
    ),
    (
        "impersonated groups",
        config(user={"token": SECRET_TOKEN, "as-groups": ["system:masters"]}),
        "has as-groups: refused",
    ),
    (
        "half a client certificate",
        config(user={"client-certificate-data": PEM}),
        "needs both client-certificate-data and client-key-data",
    ),
    ("a password without user", config(user={"password": SECRET_TOKEN}), "needs both username and password"),
    (
        "CA not base64",
        config({"certificate-authority-data": "not base64!"}),
        "cluster's certificate-authority-data is not base64",
    ),
    ("no server", config({"server": ""}), "has no http:// or https:// server"),
    ("a server that is no URL", config({"server": "prod.example:6443"}), "has no http:// or https:// server"),
    ("no current-context", config(**{"current-context": ""}), "no current-context"),
    (
        "current-context not among the contexts",
        config(**{"current-context": "staging"}),
        "the current-context is not in contexts",
    ),
    ("context's cluster missing", config(clusters=[]), "the current context's cluster is not in clusters"),
    (
        "context's user missing",
        config(users=[{"name": "other", "user": {}}]),
        "the current context's user is not in users",
    ),
    ("not a mapping", ["a", "list"], "not a kubeconfig (a mapping with clusters, users and contexts)"),
    ("not YAML", "clusters: [\n  - {name: x\n" + SECRET_TOKEN, "not YAML at line"),
]


@pytest.mark.parametrize(("doc", "reason"), [(d, r) for _, d, r in REFUSED], ids=[i for i, _, _ in REFUSED])
def test_refused_with_a_one_line_reason_without_secrets(doc: Any, reason: str) -> None:
    with pytest.raises(KubeConfigError) as e:
        parse(doc)
    message = str(e.value)
    assert reason in message
    assert "\n" not in message
    for value in (SECRET_TOKEN, "/var/run/secrets", "/bin/sh", "/etc/c", "system:admin", "system:masters"):
        assert value not in message


def data(**keys: str) -> dict[str, str]:
    return {k: base64.b64encode(v.encode()).decode() for k, v in keys.items()}


@pytest.mark.parametrize(
    ("secret_data", "key", "want"),
    [
        (data(value="A", **{"value.yaml": "B"}), None, b"A"),  # Flux: value first
        (data(**{"value.yaml": "B"}), None, b"B"),  # then value.yaml
        (data(value="", **{"value.yaml": "B"}), None, b"B"),  # an empty value has no data
        (data(kubeconfig="C", value="A"), "kubeconfig", b"C"),  # a key named: only that key
    ],
)
def test_the_key_read_from_the_secret(secret_data: dict[str, str], key: str | None, want: bytes) -> None:
    assert kubeconfig.from_secret(secret_data, key, "apps/remote") == want


@pytest.mark.parametrize(
    ("secret_data", "key", "reason"),
    [
        ({}, None, "Secret apps/remote has no key 'value' or 'value.yaml' with data"),
        (None, None, "Secret apps/remote has no key 'value' or 'value.yaml' with data"),
        (data(value="A"), "kubeconfig", "Secret apps/remote has no key 'kubeconfig' with data"),
        ({"value": "%%%"}, None, "Secret apps/remote key 'value' is not base64"),
    ],
)
def test_a_secret_without_a_kubeconfig(
    secret_data: dict[str, str] | None, key: str | None, reason: str
) -> None:
    with pytest.raises(KubeConfigError, match="^" + reason.replace("(", r"\(") + "$"):
        kubeconfig.from_secret(secret_data, key, "apps/remote")


def test_helm_gets_only_what_was_checked() -> None:
    """The kubeconfig written for helm: one context, the kept fields, nothing else of the document
    (the context's namespace, extensions, other users)."""
    doc = config(
        {"certificate-authority-data": PEM, "extensions": [{"name": "x", "extension": {}}]},
        users=[
            {"name": "ci", "user": {"token": SECRET_TOKEN}},
            {"name": "dev", "user": {"exec": {"command": "sh"}}},
        ],
    )
    written = parse(doc).kubeconfig()
    assert written == {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "remote",
                "cluster": {"server": "https://prod.example:6443", "certificate-authority-data": PEM},
            }
        ],
        "users": [{"name": "remote", "user": {"token": SECRET_TOKEN}}],
        "contexts": [{"name": "remote", "context": {"cluster": "remote", "user": "remote"}}],
        "current-context": "remote",
    }
    assert parse(written) == parse(doc)  # what helm reads is what the controller's client uses


def test_the_credentials_are_redacted_from_helm_messages() -> None:
    endpoint = parse(config(user={"username": "u", "password": "pw-secret", "token": SECRET_TOKEN}))
    assert set(endpoint.secrets) == {SECRET_TOKEN, "pw-secret"}
    assert copy.copy(endpoint) == endpoint
