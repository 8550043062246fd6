"""The pure parts of the OCI source: spec parsing, auth challenges, manifests, helm output, hints."""

from __future__ import annotations

import base64
import json

import pytest

from helmrelease_controller.api.models import ChartRef, OCIChartSource
from helmrelease_controller.sources import SourceError
from helmrelease_controller.sources.oci import OCIChartSpec, OCISource, pulled_digest, tag_hint
from helmrelease_controller.sources.ociregistry import chart_layer, docker_config_credentials, parse_challenge

DIGEST = "sha256:" + "ab" * 32
LAYER = "sha256:" + "cd" * 32


def test_spec_from_mappings_and_models() -> None:
    plain = OCIChartSpec.from_spec({"url": "oci://Registry.example.com:5000/charts/podinfo", "version": "^6"})
    assert plain == OCIChartSpec("registry.example.com:5000", "charts/podinfo", "^6", "")
    assert plain.url == "oci://registry.example.com:5000/charts/podinfo"
    nested = OCIChartSpec.from_spec({"oci": {"url": "oci://ghcr.io/org/podinfo/", "digest": DIGEST}})
    assert (nested.host, nested.repository, nested.version, nested.digest) == (
        "ghcr.io",
        "org/podinfo",
        "",
        DIGEST,
    )
    model = ChartRef.model_validate({"oci": {"url": "oci://ghcr.io/org/podinfo", "version": "1.2.3"}})
    assert OCIChartSpec.from_spec(model).version == "1.2.3"
    assert OCIChartSpec.from_spec(model.oci).repository == "org/podinfo"
    assert OCIChartSpec.from_spec(OCIChartSource(url="oci://[::1]:5000/c/x")).host == "[::1]:5000"


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"url": ""}, "must look like oci://"),
        ({"url": "http://r.io/c/x"}, "must look like oci://"),
        ({"url": "oci://r.io:99999/c/x"}, "not a valid URL"),
        ({"url": "oci://user:pw@r.io/c/x"}, "carries credentials"),
        ({"url": "oci://r.io/c/x:1.0.0"}, "must not name a tag or digest"),
        ({"url": "oci://r.io/c/x@" + DIGEST}, "must not name a tag or digest"),
        ({"url": "oci://r.io/c/x?tag=1"}, "must not name a tag or digest"),
        ({"url": "oci://r.io/"}, "not a valid OCI repository path"),
        ({"url": "oci://r.io/C/x"}, "not a valid OCI repository path"),
        ({"url": "oci://r.io/c/x", "version": "1", "digest": DIGEST}, "not both"),
        ({"url": "oci://r.io/c/x", "digest": "sha256:ABC"}, "64 lowercase hex"),
        ({"url": "oci://r.io/c/x", "version": "main"}, "invalid version or range"),
    ],
)
def test_bad_specs(spec: dict[str, str], reason: str) -> None:
    with pytest.raises(SourceError, match=reason) as e:
        OCIChartSpec.from_spec(spec)
    assert "pw" not in str(e.value)


def test_parse_challenge() -> None:
    assert parse_challenge('Basic realm="test-realm"') == ("basic", {"realm": "test-realm"})
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
        'scope="repository:charts/podinfo:pull,push", error="invalid_token"'
    )
    assert scheme == "bearer"
    assert params == {
        "realm": "https://auth.example.com/token",
        "service": "registry.example.com",
        "scope": "repository:charts/podinfo:pull,push",
        "error": "invalid_token",
    }
    assert parse_challenge("bearer realm=https://a/t") == ("bearer", {"realm": "https://a/t"})
    assert parse_challenge("") == ("", {})


def manifest(config_type: str = "application/vnd.cncf.helm.config.v1+json", **extra: object) -> bytes:
    doc = {
        "schemaVersion": 2,
        "config": {"mediaType": config_type, "digest": DIGEST, "size": 10},
        "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": LAYER}],
        **extra,
    }
    return json.dumps(doc).encode()


def test_chart_layer() -> None:
    assert chart_layer(manifest(), "here") == LAYER
    legacy = json.loads(manifest())
    legacy["layers"] = [{"mediaType": "application/tar+gzip", "digest": LAYER}]
    assert chart_layer(json.dumps(legacy).encode(), "here") == LAYER
    cases = {
        manifest("application/vnd.oci.image.config.v1+json"): r"not a Helm chart \(config media type",
        manifest(layers=[]): "expected one chart layer, found 0",
        json.dumps({"manifests": []}).encode(): "image index",
        b"[]": "not a JSON object",
        b"<html>": "not JSON",
    }
    for body, reason in cases.items():
        with pytest.raises(SourceError, match=reason):
            chart_layer(body, "oci://r.io/c/x:1.0.0")


def test_pulled_digest_from_helm4_stdout_or_helm3_stderr() -> None:
    out = f"Pulled: r.io/c/x:1.0.0\nDigest: {DIGEST}\n"
    assert pulled_digest(out) == DIGEST
    assert pulled_digest("Pulled: r.io/c/x:1.0.0\n") is None


def test_tag_hint() -> None:
    assert tag_hint(["1.0.0", "1.10.0", "1.2.0_build.1", "latest"]) == "newest: 1.10.0"
    assert tag_hint(["2.0.0-rc.1", "2.0.0-rc.2"]) == "only pre-releases, newest: 2.0.0-rc.2"
    assert tag_hint(["latest", "main"]) == "no semantic version tags"
    assert tag_hint([]) == "no semantic version tags"


def test_plain_http_is_opt_in_per_host() -> None:
    src = OCISource(plain_http_hosts=["127.0.0.1:5000", "Registry.Local", "[::1]:5001", " "])
    assert src.plain_http("127.0.0.1:5000")
    assert not src.plain_http("127.0.0.1:5001")  # another port on loopback is not plain by default
    assert src.plain_http("registry.local:443") and src.plain_http("registry.local")
    assert src.plain_http("[::1]:5001") and not src.plain_http("[::1]:5002")
    assert not OCISource().plain_http("localhost:5000")  # no loopback guess: TLS unless declared


def test_docker_config_credentials() -> None:
    auth = base64.b64encode(b"robot:t0ken:with:colons").decode()
    config = {"auths": {"https://ghcr.io": {"auth": auth}, "r.io:5000": {"username": "u", "password": "p"}}}
    data = {".dockerconfigjson": json.dumps(config).encode()}
    ghcr = docker_config_credentials(data, "ghcr.io")
    assert ghcr is not None and ghcr.basic_auth == ("robot", "t0ken:with:colons")
    other = docker_config_credentials(data, "R.io:5000")
    assert other is not None and other.basic_auth == ("u", "p")
    assert docker_config_credentials({"username": b"u", "password": b"p"}, "ghcr.io") is None
    with pytest.raises(SourceError, match=r"no entry for quay\.io"):
        docker_config_credentials(data, "quay.io")
    with pytest.raises(SourceError, match="not a valid Docker config"):
        docker_config_credentials({".dockerconfigjson": b"{nope"}, "ghcr.io")
    half = {".dockerconfigjson": json.dumps({"auths": {"ghcr.io": {"username": "u"}}})}
    with pytest.raises(SourceError, match="no password"):
        docker_config_credentials(half, "ghcr.io")
