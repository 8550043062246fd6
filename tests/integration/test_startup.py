"""Startup and environment errors, as an operator meets them: the real `helmrelease-controller run`.

A broken start (kubeconfig, context, no cluster, no helm, no CRD) is one line on stderr (one JSON
line with --log-format json) and exit code 2, never a traceback or an endless retry loop. SIGTERM
is honoured while the controller still waits for the API server. `run --help` documents every
flag with its default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helmrelease_controller.cli import parser
from kubesim import KubeSim
from tests.conftest import Cli
from tests.helpers.controller import BIN, ROOT, wait_for


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "POD_NAMESPACE")
    }
    env.update(
        PATH=f"{BIN}:{env.get('PATH', '')}",
        HOME=str(tmp_path),
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "helmrelease_controller", "run", "--metrics-addr", "", *args]


def _run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _cmd("--cache-dir", str(tmp_path / "cache"), *args),
        env=env or _env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_line(proc: subprocess.CompletedProcess[str], json_format: bool) -> str:
    """The single line the controller printed; parsed as JSON when asked for (its msg)."""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    if not json_format:
        return lines[0]
    rec = json.loads(lines[0])
    assert rec["level"] == "error"
    return str(rec["msg"])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing-file", "no such file"),
        ("not-a-kubeconfig", "not a kubeconfig"),
        ("unknown-context", 'context "nope"'),
        ("no-cluster", "KUBECONFIG"),
    ],
)
def test_bad_cluster_config_is_one_line_and_exit_2(
    tmp_path: Path, kubesim: KubeSim, case: str, expected: str, log_format: str
) -> None:
    kubeconfig = str(kubesim.kubeconfig_path)
    args = ["--log-format", log_format]
    if case == "missing-file":
        args += ["--kubeconfig", str(tmp_path / "nope.yaml")]
    elif case == "not-a-kubeconfig":
        (tmp_path / "garbage").write_text("just some text\n")
        args += ["--kubeconfig", str(tmp_path / "garbage")]
    elif case == "unknown-context":
        args += ["--kubeconfig", kubeconfig, "--context", "nope"]
    proc = _run(tmp_path, *args)
    assert proc.returncode == 2, proc.stderr
    line = _one_line(proc, log_format == "json")
    assert expected in line, line


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_helm_fails_at_start(tmp_path: Path, kubesim: KubeSim, log_format: str) -> None:
    proc = _run(
        tmp_path,
        "--kubeconfig",
        str(kubesim.kubeconfig_path),
        "--helm",
        "/nonexistent",
        "--log-format",
        log_format,
    )
    assert proc.returncode == 2, proc.stderr
    line = _one_line(proc, log_format == "json")
    assert "/nonexistent" in line and "helm" in line


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("echo 'Error: broken install' >&2; exit 1", "`helm version` failed: Error: broken install"),
        ("echo v2.17.0", "helm v2.17.0 is not supported (v3 or v4)"),
    ],
)
def test_helm_that_does_not_work_fails_at_start(
    tmp_path: Path, kubesim: KubeSim, script: str, expected: str
) -> None:
    fake = tmp_path / "helm"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    proc = _run(tmp_path, "--kubeconfig", str(kubesim.kubeconfig_path), "--helm", str(fake))
    assert proc.returncode == 2, proc.stderr
    assert expected in _one_line(proc, False)


def test_missing_crd_says_how_to_install_it(tmp_path: Path, kubesim: KubeSim) -> None:
    proc = _run(tmp_path, "--kubeconfig", str(kubesim.kubeconfig_path))
    assert proc.returncode == 2, proc.stderr
    line = _one_line(proc, False)
    assert "helmreleases.helmrelease.dev" in line and "kubectl apply -k crds/" in line, line


def test_missing_rbac_is_named(tmp_path: Path, kubesim: KubeSim, kubectl: Cli) -> None:
    kubectl("apply", "-f", str(ROOT / "crds" / "helmrelease.yaml"))
    kubesim.add_fault(
        status=403,
        verb="list",
        resource="helmreleases.helmrelease.dev",
        message='helmreleases.helmrelease.dev is forbidden: User "system:serviceaccount:x:y" cannot list',
    )
    proc = _run(tmp_path, "--kubeconfig", str(kubesim.kubeconfig_path))
    assert proc.returncode == 2, proc.stderr
    line = _one_line(proc, False)
    assert "system:serviceaccount:x:y" in line and "list helmreleases" in line, line


@pytest.mark.parametrize("why", ["api-unreachable", "api-failing"])
def test_sigterm_while_waiting_for_the_api_server_exits_promptly(
    tmp_path: Path, kubesim: KubeSim, kubectl: Cli, why: str
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    if why == "api-unreachable":
        cfg = yaml.safe_load(Path(str(kubesim.kubeconfig_path)).read_text())
        cfg["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{_closed_port()}"
        kubeconfig.write_text(yaml.safe_dump(cfg))
    else:  # the API server answers, but listing HelmReleases fails (a 503 from an overloaded server)
        kubectl("apply", "-f", str(ROOT / "crds" / "helmrelease.yaml"))
        kubesim.add_fault(status=503, verb="list", resource="helmreleases.helmrelease.dev")
        kubeconfig = Path(str(kubesim.kubeconfig_path))
    log = tmp_path / "controller.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            _cmd("--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "cache")),
            env=_env(tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: "retrying" in log.read_text(), 30, what="the controller retrying")
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(10)  # generous: an unhandled SIGTERM here used to wait for minutes
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert rc == 0, log.read_text()


def _help_sections(text: str) -> dict[str, str]:
    """--flag -> the text of its entry in `run --help` (argparse indents each entry by two spaces)."""
    sections: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        stripped = line.strip()
        if line.startswith("  -") and not line.startswith("    "):
            current = stripped.split()[0].rstrip(",")
            sections[current] = stripped
        elif current is not None and line.startswith("    "):
            sections[current] += " " + stripped
        else:
            current = None
    return sections


def test_run_help_documents_every_flag_with_its_default(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "helmrelease_controller", "run", "--help"],
        env=_env(tmp_path, COLUMNS="100"),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    sections = _help_sections(out)
    run = next(
        a
        for a in parser()._subparsers._group_actions[0].choices.values()
        if a.prog.endswith(" run")  # type: ignore[union-attr]
    )
    missing = []
    for action in run._actions:
        if "-h" in action.option_strings:
            continue
        flag = action.option_strings[-1]
        text = " ".join(sections.get(flag, "").split())
        if "(default" not in text:
            missing.append(f"{flag}: {text or 'not listed'}")
        elif (
            action.default not in (None, False, [])
            and not isinstance(action, argparse._StoreFalseAction)  # a --no-X flag: "off" by default
            and str(action.default) not in "".join(text.split())  # argparse may wrap it at a hyphen
        ):
            missing.append(f"{flag}: default {action.default!r} not shown in {text!r}")
    assert not missing, "\n".join(missing)


def test_controller_stops_before_its_cache_synced(tmp_path: Path, kubesim: KubeSim) -> None:
    """The Controller itself (past the CLI's checks): a stop while its informer still retries the list."""
    from helmrelease_controller.controller import Controller, Options
    from helmrelease_controller.kube.client import KubeClient

    async def scenario() -> bool:
        client = await KubeClient.from_kubeconfig(str(kubesim.kubeconfig_path))
        ctl = Controller(
            Options(cache_dir=str(tmp_path / "cache"), metrics_addr="", helm=str(BIN / "helm")), client
        )
        stop = asyncio.Event()
        task = asyncio.create_task(ctl.run(stop))
        try:
            # No CRD: the HelmRelease informer's list fails and backs off; wait until it has tried.
            while not any("/helmreleases" in r.path for r in kubesim.requests.entries()):
                await asyncio.sleep(0.05)
            stop.set()
            await asyncio.wait_for(task, 10)  # generous; it used to wait for the cache forever
            return ctl.informer.synced.is_set()
        finally:
            task.cancel()
            await client.close()

    assert asyncio.run(scenario()) is False


def test_an_unexpected_error_is_one_json_record(tmp_path: Path, kubesim: KubeSim, kubectl: Cli) -> None:
    """What preflight does not foresee (here: the metrics port is taken) is still one JSON line."""
    kubectl("apply", "-f", str(ROOT / "crds" / "helmrelease.yaml"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        kubeconfig = str(kubesim.kubeconfig_path)
        proc = _run(
            tmp_path,
            "--kubeconfig",
            kubeconfig,
            "--log-format",
            "json",
            "--metrics-addr",
            f"127.0.0.1:{port}",
        )
    assert proc.returncode == 1, proc.stderr
    records = [json.loads(line) for line in proc.stderr.splitlines()]  # every line is a JSON record
    last = records[-1]
    assert last["level"] == "critical" and "address already in use" in last["msg"], last
    assert "Traceback" in last["error"]  # the traceback travels inside the record
