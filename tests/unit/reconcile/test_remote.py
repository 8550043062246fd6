"""reconcile/remote.py's pure parts: the one line for an error of a remote API server (and only of
one: this cluster's errors keep their own handling, kube/apihealth), the client configuration
built from a checked kubeconfig, and the private files."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from helmrelease_controller.kube.client import ApiError, NotFound, TransportError
from helmrelease_controller.kube.kubeconfig import Endpoint
from helmrelease_controller.reconcile.remote import _TAG, configuration, remote_error, write_private

SERVER = "https://prod.example:6443"


def tagged(err: ApiError) -> ApiError:
    setattr(err, _TAG, SERVER)
    return err


@pytest.mark.parametrize(
    ("err", "line"),
    [
        (
            tagged(TransportError("GET /api/v1/namespaces/apps/secrets: ClientConnectorError: refused")),
            f"remote cluster {SERVER} is unreachable: GET /api/v1/namespaces/apps/secrets: "
            "ClientConnectorError: refused",
        ),
        (
            tagged(ApiError(401, "Unauthorized", "Unauthorized")),
            f"remote cluster {SERVER} refused the kubeconfig's credentials (401 Unauthorized)",
        ),
        (
            tagged(
                ApiError(
                    403, "Forbidden", 'secrets is forbidden: User "system:serviceaccount:a:b" cannot list'
                )
            ),
            f'remote cluster {SERVER}: 403 Forbidden: secrets is forbidden: User "system:serviceaccount:a:b" '
            "cannot list",
        ),
        (
            tagged(NotFound(404, "NotFound", 'namespaces "web" not found')),
            f'remote cluster {SERVER}: 404 NotFound: namespaces "web" not found',
        ),
    ],
    ids=["unreachable", "credentials", "forbidden", "not-found"],
)
def test_a_remote_api_error_is_one_line(err: ApiError, line: str) -> None:
    got = remote_error(err)
    assert got is not None and str(got) == line


@pytest.mark.parametrize(
    "err", [TransportError("connection refused"), ApiError(503, "ServiceUnavailable", ""), ValueError("x")]
)
def test_this_clusters_errors_are_not_remote(err: Exception) -> None:
    assert remote_error(err) is None


def test_configuration_of_a_token_and_ca(tmp_path: Path) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    ca = base64.b64encode(pem.encode()).decode()
    cfg = configuration(Endpoint(SERVER, ca_data=ca, token="t0ken", tls_server_name="api"), tmp_path)
    assert (cfg.host, cfg.ca_cert_data, cfg.tls_server_name) == (SERVER, pem, "api")
    assert cfg.api_key["BearerToken"] == "Bearer t0ken"
    assert list(tmp_path.iterdir()) == []  # nothing written for a token


def test_configuration_of_basic_auth_and_a_client_certificate(tmp_path: Path) -> None:
    cert, key = base64.b64encode(b"CERT").decode(), base64.b64encode(b"KEY").decode()
    cfg = configuration(
        Endpoint(SERVER, client_certificate_data=cert, client_key_data=key, username="u", password="p"),
        tmp_path,
    )
    assert cfg.api_key["BearerToken"] == "Basic " + base64.b64encode(b"u:p").decode()
    assert Path(cfg.cert_file).read_bytes() == b"CERT" and Path(cfg.key_file).read_bytes() == b"KEY"
    for path in (cfg.cert_file, cfg.key_file):
        assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600


def test_private_files_are_0600_and_never_overwritten(tmp_path: Path) -> None:
    path = write_private(tmp_path / "kubeconfig", b"x")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        write_private(path, b"y")
