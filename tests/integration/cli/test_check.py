"""`kubectl hr check`: every prerequisite in one screen, exit 1 when one fails; with the real
controller (leader-elected), helm, kubectl and kubesim, and with kubesim's RBAC for a limited user."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from kubesim import KubeSim
from tests.conftest import BIN, ROOT, tool
from tests.helpers.controller import ControllerProcess, wait_for

from ..controller.conftest import Cluster
from .conftest import VENV_BIN, Plugin


def _rows(out: str) -> dict[str, list[str]]:
    rows = {}
    for line in out.splitlines()[1:]:
        cells = [c.strip() for c in line.split("   ") if c.strip()]
        rows[cells[0]] = cells[1:]
    return rows


def test_check_reports_each_prerequisite(cluster: Cluster, controller: ControllerProcess, hr: Plugin) -> None:
    controller.stop()
    controller.start("--leader-elect", "--leader-election-namespace", "apps")

    def leading() -> dict[str, list[str]] | None:
        r = hr("check", "-n", "apps", "--leader-election-namespace", "apps")
        rows = _rows(r.out)
        return rows if rows.get("controller", [""])[0] == "ok" else None

    rows = wait_for(leading, what="the controller leading")
    assert rows["API server"][0] == "ok"
    assert rows["CRD helmreleases.helmrelease.dev"] == ["ok", "installed, current"]
    assert rows["CRD gitsyncs.helmrelease.dev"] == ["ok", "installed, current"]
    assert rows["controller"][1].startswith("leader ")
    assert rows["RBAC"][0] in ("ok", "warn")  # kubesim without RBAC may not serve reviews
    assert rows["helm"][0] == "ok" and "v4." in rows["helm"][1]
    assert rows["kubectl"][0] == "ok" and "Client Version: v1." in rows["kubectl"][1]

    cluster.kubectl("delete", "crd", "gitsyncs.helmrelease.dev")
    missing = hr("check", "-n", "apps", "--leader-election-namespace", "apps")
    assert missing.code == 1
    assert _rows(missing.out)["CRD gitsyncs.helmrelease.dev"] == [
        "FAIL",
        "not installed: kubectl apply -k crds/",
    ]
    assert "examples:" in hr.ok("check", "--help")


def test_check_names_what_a_limited_user_may_not_do(tmp_path: Path) -> None:
    sim = KubeSim(rbac=True)
    sim.start()
    try:
        admin = sim.write_kubeconfig(tmp_path / "admin")
        alice = sim.user_kubeconfig(tmp_path / "alice", "alice")
        env = {"PATH": f"{VENV_BIN}:{BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "KUBECONFIG": str(admin)}
        plugin = Plugin(env)

        def kubectl(*args: str, input: str | None = None) -> None:
            subprocess.run(
                [tool("kubectl"), *args], env=env, input=input, text=True, check=True, capture_output=True
            )

        kubectl("apply", "-k", str(ROOT / "crds"))
        kubectl("create", "namespace", "apps")
        rbac = "rbac.authorization.k8s.io"
        role = {"apiVersion": f"{rbac}/v1", "kind": "Role",
                "metadata": {"name": "hr-reader", "namespace": "apps"},
                "rules": [{"apiGroups": ["helmrelease.dev"], "resources": ["helmreleases"],
                           "verbs": ["get", "list", "watch"]}]}  # fmt: skip
        binding = {"apiVersion": f"{rbac}/v1", "kind": "RoleBinding",
                   "metadata": {"name": "alice", "namespace": "apps"},
                   "roleRef": {"apiGroup": rbac, "kind": "Role", "name": "hr-reader"},
                   "subjects": [{"kind": "User", "name": "alice", "apiGroup": rbac}]}  # fmt: skip
        kubectl("apply", "-f", "-", input=yaml.safe_dump_all([role, binding]))

        r = plugin("check", "--kubeconfig", str(alice), "-n", "apps")
        rows = _rows(r.out)
        assert rows["API server"][0] == "ok"
        assert rows["CRD helmreleases.helmrelease.dev"][0] == "warn"  # alice may not read CRDs
        assert rows["RBAC"][0] == "warn", rows
        assert rows["RBAC"][1].startswith(
            "in namespace apps you may not: patch helmreleases (suspend, resume, "
        )
        assert "list helmreleases" not in rows["RBAC"][1]
        assert "list secrets (history, tree, diff); get secrets (values, diff)" in rows["RBAC"][1]
        assert rows["controller"] == [
            "warn",
            "cannot read Lease helmrelease-system/helmrelease-controller: 403 Forbidden",
        ]
        assert r.code == 0  # warnings only
    finally:
        sim.stop()
