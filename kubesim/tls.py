"""A serving certificate for an enforcing kubesim: clients send bearer tokens only over TLS.

kubectl and helm (client-go) do not send a token to a plain-HTTP server, so a kubesim
that authenticates serves HTTPS with a fresh self-signed certificate for 127.0.0.1
(made by the openssl CLI), which the kubeconfigs it writes carry as their
certificate-authority-data.
"""

from __future__ import annotations

import base64
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServingCert:
    cert_pem: bytes
    context: ssl.SSLContext

    @property
    def ca_data(self) -> str:
        """The certificate as a kubeconfig's certificate-authority-data."""
        return base64.b64encode(self.cert_pem).decode()


def self_signed() -> ServingCert:
    with tempfile.TemporaryDirectory(prefix="kubesim-tls-") as d:
        cert, key = Path(d) / "tls.crt", Path(d) / "tls.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(cert), "-days", "30", "-subj", "/CN=kubesim",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-addext", "basicConstraints=critical,CA:TRUE"],
            check=True, capture_output=True,
        )  # fmt: skip
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        return ServingCert(cert.read_bytes(), ctx)
