"""Table tests of gitsync.render's YAML parsing and gitsync.validate: a commit is accepted whole, or
refused with one `file:line: problem` line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from helmrelease_controller.gitsync.render import Document, RenderError, parse_documents, render
from helmrelease_controller.gitsync.validate import validate
from tests.helpers.processes import gone

HR = """\
apiVersion: helmrelease.dev/v1
kind: HelmRelease
metadata:
  name: web
spec:
  chart:
    repository: {url: https://charts.example.com, name: podinfo, version: 6.5.0}
  values:
    replicaCount: 2
"""

CM = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-values
data:
  values.yaml: |
    replicaCount: 3
"""

NS = """\
apiVersion: v1
kind: Namespace
metadata:
  name: apps
"""


def docs(**files: str) -> list[Document]:
    """Documents of files given as name=text (`__` in a name is `/`)."""
    out: list[Document] = []
    for name, text in files.items():
        out.extend(parse_documents(text, name.replace("__", "/")))
    return out


def test_a_valid_commit_gives_its_objects_with_the_gitsync_namespace() -> None:
    result = validate(docs(a__web_yaml=HR + "---\n" + CM, a__ns_yaml=NS), namespace="apps")
    assert result.ok, result.errors
    assert [o.key for o in result.objects] == [
        ("HelmRelease", "apps", "web"),
        ("ConfigMap", "apps", "web-values"),
        ("Namespace", "", "apps"),
    ]
    hr, cm, ns = result.objects
    assert hr.obj["metadata"] == {"name": "web", "namespace": "apps"}
    assert (hr.file, hr.line, cm.line) == ("a/web_yaml", 1, 11)  # the second document starts on line 11
    assert "namespace" not in ns.obj["metadata"]


def test_server_owned_fields_are_not_applied() -> None:
    pasted = HR.replace("  name: web\n", "  name: web\n  uid: x\n  resourceVersion: '7'\n  generation: 3\n")
    [obj] = validate(docs(f=pasted + "status: {observedGeneration: 3}\n"), namespace="apps").objects
    assert obj.obj["metadata"] == {"name": "web", "namespace": "apps"} and "status" not in obj.obj


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {
                "releases__prod__web.yaml": HR.replace(
                    "    repository: {url: https://charts.example.com, name: podinfo, version: 6.5.0}\n",
                    "    {}\n",
                )
            },
            ["releases/prod/web.yaml:6: spec.chart: exactly one of git, repository or oci must be set"],
            id="invalid HelmRelease: the line of the field",
        ),
        pytest.param(
            {"web.yaml": HR.replace("  values:\n", "  valuess:\n")},
            ['web.yaml:8: spec.valuess: unknown field; did you mean "values"?'],
            id="unknown field",
        ),
        pytest.param(
            {"web.yaml": HR + "  valuesFrom:\n  - {kind: Secret, name: Bad_Name}\n"},
            ["web.yaml:11: spec.valuesFrom[0].name: 'Bad_Name' is not a valid object name"],
            id="list item field",
        ),
        pytest.param(
            {"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: x}\n"},
            ["s.yaml:1: Secret db: Secrets are not applied from git (they would be stored there in plain"],
            id="a Secret, with a hint",
        ),
        pytest.param(
            {"d.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"},
            ["d.yaml:1: Deployment web (apps/v1) is not applied by a GitSync: only HelmRelease"],
            id="another kind",
        ),
        pytest.param(
            {"d.yaml": HR.replace("helmrelease.dev/v1", "helm.toolkit.fluxcd.io/v2")},
            ["d.yaml:1: HelmRelease web (helm.toolkit.fluxcd.io/v2) is not applied by a GitSync"],
            id="Flux's HelmRelease",
        ),
        pytest.param(
            {"x.yaml": "metadata: {name: a}\n"}, ["x.yaml:1: apiVersion and kind are required"], id="no kind"
        ),
        pytest.param(
            {"x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {a: b}}\n"},
            ["x.yaml:3: ConfigMap: metadata.name is required"],
            id="no name",
        ),
        pytest.param(
            {"x.yaml": CM.replace("  name: web-values\n", "  name: web-values\n  namespace: prod\n")},
            ["x.yaml:5: ConfigMap prod/web-values: namespace prod is not the GitSync's namespace apps"],
            id="another namespace",
        ),
        pytest.param(
            {"x.yaml": NS.replace("name: apps", "name: prod")},
            ["x.yaml:1: Namespace prod: only the GitSync's own namespace apps may be declared"],
            id="another Namespace",
        ),
        pytest.param(
            {
                "a.yaml": HR,
                "b.yaml": "# the same\n" + HR.replace("name: web", "name: web\n  namespace: apps"),
            },
            ["b.yaml:2: HelmRelease apps/web is already defined at a.yaml:1"],
            id="duplicate, naming both files",
        ),
        pytest.param(
            {"x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  replicas: 3\n"},
            ["x.yaml:4: ConfigMap c: data must map keys to strings"],
            id="ConfigMap data not strings",
        ),
    ],
)
def test_refused(files: dict[str, str], expected: list[str]) -> None:
    result = validate(docs(**files), namespace="apps")
    assert result.objects == []
    assert len(result.errors) == len(expected), result.errors
    for got, want in zip(result.errors, expected, strict=True):
        assert got.startswith(want), got
        assert "\n" not in got


def test_cross_namespace_allowed_by_the_flag() -> None:
    files = docs(
        x=CM.replace("  name: web-values\n", "  name: web-values\n  namespace: prod\n"),
        n=NS.replace("apps", "prod"),
    )
    result = validate(files, namespace="apps", allow_cross_namespace=True)
    assert result.ok and [o.key for o in result.objects] == [
        ("ConfigMap", "prod", "web-values"),
        ("Namespace", "", "prod"),
    ]


def test_one_bad_file_refuses_the_whole_commit() -> None:
    result = validate(
        docs(a=HR, b=CM, c="apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"), namespace="apps"
    )
    assert result.objects == [] and len(result.errors) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: [1, 2\nb: 3\n", "web.yaml:2: invalid YAML: while parsing a flow sequence: "),
        ("kind: ConfigMap\n  bad: indent\n", "web.yaml:2: invalid YAML: mapping values are not allowed"),
        (
            "apiVersion: v1\n---\n- a\n- b\n",
            "web.yaml:3: a document must be a Kubernetes object (a mapping), not a list",
        ),
        ("a: 1\na: 2\n\tb: 3\n", "web.yaml:3: invalid YAML:"),
    ],
)
def test_broken_yaml_names_file_and_line(text: str, expected: str) -> None:
    with pytest.raises(RenderError) as err:
        parse_documents(text, "web.yaml")
    assert str(err.value).startswith(expected), str(err.value)


def test_empty_documents_and_dates() -> None:
    [doc] = parse_documents(
        "---\n# nothing\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
        "data: {d: 2024-01-01}\n---\n",
        "f",
    )
    assert doc.line == 4 and doc.obj["data"]["d"] == "2024-01-01"


async def test_render_reads_yaml_recursively_in_sorted_order(tmp_path: Path) -> None:
    (tmp_path / "releases" / "prod" / "b").mkdir(parents=True)
    (tmp_path / "releases" / "dev").mkdir(parents=True)
    (tmp_path / "releases" / "prod" / "z.yml").write_text(CM)
    (tmp_path / "releases" / "prod" / "b" / "web.yaml").write_text(HR)
    (tmp_path / "releases" / "prod" / "a.yaml").write_text(NS)
    (tmp_path / "releases" / "prod" / "README.md").write_text("not yaml: [")
    (tmp_path / "releases" / "dev" / "other.yaml").write_text(HR)
    found = await render(tmp_path, "releases/prod")
    assert [d.file for d in found] == [
        "releases/prod/a.yaml",
        "releases/prod/b/web.yaml",
        "releases/prod/z.yml",
    ]
    assert len(await render(tmp_path, ".")) == 4
    (tmp_path / "releases" / "prod" / "broken.yaml").write_text("a: [\n")
    with pytest.raises(RenderError, match=r"^releases/prod/broken.yaml:2: invalid YAML"):
        await render(tmp_path, "releases/prod")
    with pytest.raises(RenderError, match=r"^releases/qa: path does not exist in this commit"):
        await render(tmp_path, "releases/qa")


async def test_render_runs_kustomize_when_there_is_a_kustomization(tmp_path: Path) -> None:
    base, overlay = tmp_path / "base", tmp_path / "overlays" / "prod"
    base.mkdir()
    overlay.mkdir(parents=True)
    (base / "web.yaml").write_text(HR)
    (base / "kustomization.yaml").write_text("resources: [web.yaml]\n")
    (overlay / "kustomization.yaml").write_text(
        "resources: [../../base]\nnamePrefix: prod-\ncommonLabels: {env: prod}\n"
    )
    [doc] = await render(tmp_path, "overlays/prod")
    assert doc.obj["metadata"]["name"] == "prod-web" and doc.obj["metadata"]["labels"] == {"env": "prod"}
    assert doc.file == "kustomize build overlays/prod"
    (overlay / "kustomization.yaml").write_text("resources: [../../missing]\n")
    with pytest.raises(RenderError, match=r"^kustomize build overlays/prod: "):
        await render(tmp_path, "overlays/prod")


@pytest.mark.parametrize(
    "entry",
    [
        "https://github.com/org/repo//deploy?ref=v1",
        "github.com/org/repo/deploy",
        "git@github.com:org/repo.git",
        "ssh://git@example.com/repo.git",
    ],
)
async def test_kustomize_remote_resources_are_refused(tmp_path: Path, entry: str) -> None:
    (tmp_path / "prod").mkdir()
    (tmp_path / "prod" / "kustomization.yaml").write_text(
        f"namePrefix: p-\nresources:\n- web.yaml\n- {entry}\n"
    )
    (tmp_path / "prod" / "web.yaml").write_text(HR)
    with pytest.raises(RenderError) as err:
        await render(tmp_path, "prod")
    assert str(err.value) == (
        f"prod/kustomization.yaml:4: remote resources entry {entry!r} is not allowed: "
        "only paths inside the repository"
    )


async def test_kustomize_timeout_kills_kubectl_and_what_it_started(tmp_path: Path) -> None:
    """A kustomize build that hangs ends with one line, and nothing kubectl started outlives it (a
    child that let go of kubectl's pipes included)."""
    (tmp_path / "prod").mkdir()
    (tmp_path / "prod" / "kustomization.yaml").write_text("resources: [web.yaml]\n")
    pidfile, kubectl = tmp_path / "child.pid", tmp_path / "kubectl"
    kubectl.write_text(f"#!/bin/sh\nsleep 1000 >/dev/null 2>&1 &\necho $! > {pidfile}\nwait\n")
    kubectl.chmod(0o755)
    with pytest.raises(RenderError, match=r"^kustomize build prod: timed out after 0.5s$"):
        await render(tmp_path, "prod", kubectl=str(kubectl), timeout=0.5)
    assert await gone(int(pidfile.read_text()))


async def test_kustomize_without_kubectl(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\n")
    with pytest.raises(RenderError, match=r"^kustomize build \.: cannot run kubectl \(No such file"):
        await render(tmp_path, ".", kubectl=str(tmp_path / "no-kubectl"))
