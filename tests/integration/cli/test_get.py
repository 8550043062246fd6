"""`kubectl hr get`: the table, -o wide/json/yaml, -A, the kubeconfig context's namespace, a missing
object, usage errors, and `--watch` printing a new row when the object changes; with the real
controller, kubectl and kubesim."""

from __future__ import annotations

import json
import os
import pty
import queue
import subprocess
import threading
from pathlib import Path
from typing import IO

import yaml

from tests.conftest import tool
from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess

from ..controller.conftest import Cluster, helmrelease
from .conftest import VENV_BIN, Plugin


def _columns(line: str) -> list[str]:
    return [c.strip() for c in line.split("   ") if c.strip()]


def test_get_shows_ready_chart_revision_and_suspension(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin
) -> None:
    cluster.apply(helmrelease("web", repo.url))
    cluster.apply(helmrelease("api", repo.url, version="1.0.0"))
    cluster.wait_ready("web")
    cluster.wait_ready("api")

    lines = hr.ok("get", "-n", "apps").splitlines()
    header = lines[0].split()
    assert lines[0].startswith("NAME   ") and "LAST CHANGE" in lines[0]
    assert header[:6] == ["NAME", "READY", "STATUS", "CHART", "REVISION", "SUSPENDED"]
    assert [line.split()[0] for line in lines[1:]] == ["api", "web"]
    web = lines[2]
    assert web.split()[1] == "True"
    assert "Helm install succeeded" in web
    assert "webapp@1.1.0" in web and "webapp@1.0.0" in lines[1]
    assert " false " in web and "\x1b[" not in web  # no colour: stdout is not a terminal
    assert lines[0].index("CHART") == web.index("webapp@")  # aligned columns

    wide = hr.ok("get", "web", "-n", "apps", "-o", "wide").splitlines()
    assert "RELEASE" in wide[0] and "APPLIED" in wide[0] and "NEXT RETRY" in wide[0]
    assert "apps/web" in wide[1] and "1.1.0@sha256:" in wide[1]

    every = hr.ok("get", "-A").splitlines()
    assert every[0].startswith("NAMESPACE   NAME")
    assert [line.split()[:2] for line in every[1:]] == [["apps", "api"], ["apps", "web"]]


def test_get_outputs_objects_as_yaml_and_json(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin
) -> None:
    cluster.apply(helmrelease("web", repo.url))
    cluster.wait_ready("web")
    one = yaml.safe_load(hr.ok("get", "web", "-n", "apps", "-o", "yaml"))
    assert one["kind"] == "HelmRelease" and one["metadata"]["name"] == "web"
    assert one["status"]["helmChart"] == "webapp@1.1.0"
    many = json.loads(hr.ok("get", "-n", "apps", "-o", "json"))
    assert many["kind"] == "List" and [i["metadata"]["name"] for i in many["items"]] == ["web"]
    assert many["items"][0]["apiVersion"] == "helmrelease.dev/v1"


def test_namespace_comes_from_the_kubeconfig_context_and_errors_have_exit_codes(
    cluster: Cluster, repo: ChartRepo, hr: Plugin, tmp_path: Path
) -> None:
    cluster.apply(helmrelease("web", repo.url))
    assert cluster.sim.kubeconfig_path is not None
    config = yaml.safe_load(cluster.sim.kubeconfig_path.read_text())
    config["contexts"][0]["context"]["namespace"] = "apps"
    (tmp_path / "apps-kubeconfig").write_text(yaml.safe_dump(config))

    out = hr.ok("get", "--kubeconfig", str(tmp_path / "apps-kubeconfig"))
    assert out.splitlines()[1].split()[:3] == ["web", "Unknown", "waiting"]  # no controller: no status
    # The same command as a subcommand of helmrelease-controller.
    same = subprocess.run(
        [str(VENV_BIN / "helmrelease-controller"), "get", "--kubeconfig", str(tmp_path / "apps-kubeconfig")],
        capture_output=True,
        text=True,
        timeout=60,
        env=hr.env,
    )
    assert (same.returncode, same.stdout.splitlines()[1].split()[:3]) == (0, ["web", "Unknown", "waiting"])

    empty = hr("get")  # the kubesim kubeconfig names no namespace: "default"
    assert (empty.code, empty.out, empty.err.strip()) == (0, "", "No resources found in default namespace.")
    missing = hr("get", "nope", "-n", "apps")
    assert missing.code == 1
    assert missing.err.strip() == 'error: helmreleases.helmrelease.dev "nope" not found'
    usage = hr("get", "-o", "xml")
    assert usage.code == 2 and "invalid choice: 'xml'" in usage.err
    assert "examples:" in hr.ok("get", "--help")


def _lines(stream: IO[str]) -> queue.Queue[str]:
    q: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            q.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return q


def _next_matching(q: queue.Queue[str], needle: str, timeout: float = 30) -> list[str]:
    seen = []
    while True:
        line = q.get(timeout=timeout)  # queue.Empty fails the test: bounded
        seen.append(line)
        if needle in line:
            return seen


def test_watch_prints_a_new_row_when_the_object_changes(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin
) -> None:
    cluster.apply(helmrelease("web", repo.url))
    cluster.wait_ready("web")
    proc = hr.popen("get", "web", "-n", "apps", "--watch")
    try:
        assert proc.stdout is not None
        lines = _lines(proc.stdout)
        header, first = lines.get(timeout=30), lines.get(timeout=30)
        assert header.startswith("NAME") and _columns(first)[5] == "false"
        cluster.kubectl("annotate", "hr", "web", "-n", "apps", "helmrelease.dev/suspend=true")
        changed = _next_matching(lines, " true ")
        assert changed[-1].split()[0] == "web"
        assert changed[-1].index("true") == header.index("SUSPENDED")  # the header's columns
    finally:
        proc.kill()
        proc.wait()


def _on_a_terminal(hr: Plugin, *args: str, **env: str) -> str:
    """`kubectl hr ARGS` with stdout on a pseudo-terminal; what it wrote there."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [tool("kubectl"), "hr", *args],
            env={**hr.env, **env},
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other side is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)


def test_colour_only_on_a_terminal_and_never_with_no_color(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin
) -> None:
    cluster.apply(helmrelease("web", repo.url))
    cluster.wait_ready("web")
    coloured = _on_a_terminal(hr, "get", "-n", "apps")
    assert "\x1b[32mTrue\x1b[0m" in coloured
    assert "\x1b[" not in _on_a_terminal(hr, "get", "-n", "apps", NO_COLOR="1")
    assert "\x1b[" not in hr.ok("get", "-n", "apps")  # a pipe
