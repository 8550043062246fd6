"""What every operations command shares: kubectl's flags (`--kubeconfig`, `--context`,
`-n/--namespace`, `-A`, `-o`), the namespace a kubeconfig context names, which kind a command's
positional words name (`gitsync NAME` or `NAME`), the connection, printing objects as JSON/YAML,
and the exit codes (0 ok, 1 the thing failed, 2 usage).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from ..api.gitsync import GITSYNC_KIND, GITSYNC_PLURAL
from ..api.models import GROUP, VERSION
from ..kube.client import HELMRELEASES, KubeClient, Resource
from .fmt import use_colour

GITSYNCS = Resource(GROUP, VERSION, GITSYNC_PLURAL, True, GITSYNC_KIND)
OK, FAILED, USAGE = 0, 1, 2

HR_WORDS = {"hr", "helmrelease", "helmreleases"}
GS_WORDS = {"gs", "gitsync", "gitsyncs"}


class Failure(Exception):
    """The command failed (exit 1); str() is the one line printed after `error: `."""


def command(sub: Any, name: str, help: str, description: str, epilog: str) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with its examples (`epilog`, printed as written)."""
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return p


def add_cluster_flags(p: argparse.ArgumentParser, all_namespaces: bool = True) -> None:
    """kubectl's connection flags."""
    p.add_argument(
        "--kubeconfig", metavar="FILE", help="kubeconfig (default: $KUBECONFIG, else ~/.kube/config)"
    )
    p.add_argument("--context", help="kubeconfig context (default: the current context)")
    p.add_argument("-n", "--namespace", help="namespace (default: the context's namespace, else default)")
    if all_namespaces:
        p.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")


def duration(text: str) -> float:
    """An argparse type: a Go duration (`90s`, `5m`) in seconds; a bad one is a usage error."""
    from ..api.durations import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be more than 0s")
    return seconds


def kind_and_names(words: list[str]) -> tuple[Resource, list[str]]:
    """`[gitsync|hr] NAME...`: the resource the words name and the names that follow.
    A first word `gitsync`/`gs` selects GitSyncs, `hr`/`helmrelease` HelmReleases (the default)."""
    if words and words[0].lower() in GS_WORDS:
        return GITSYNCS, words[1:]
    if words and words[0].lower() in HR_WORDS:
        return HELMRELEASES, words[1:]
    return HELMRELEASES, words


def context_namespace(config: dict[str, Any], context: str | None) -> str:
    """The namespace of the kubeconfig's context (`context` or current-context), else "default"."""
    name = context or config.get("current-context")
    for entry in config.get("contexts") or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            ns = (entry.get("context") or {}).get("namespace")
            return str(ns) if ns else "default"
    return "default"


def kubeconfig_path(flag: str | None) -> str | None:
    """--kubeconfig, else the first file of $KUBECONFIG, else None (the client's default)."""
    if flag:
        return flag
    env = os.environ.get("KUBECONFIG", "")
    return next((p for p in env.split(os.pathsep) if p), None)


def default_namespace(args: argparse.Namespace) -> str:
    """-n, else the kubeconfig context's namespace, else "default"."""
    if args.namespace:
        return str(args.namespace)
    path = kubeconfig_path(args.kubeconfig) or str(Path.home() / ".kube" / "config")
    try:
        config = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return "default"
    return context_namespace(config if isinstance(config, dict) else {}, args.context)


async def connect(args: argparse.Namespace) -> KubeClient:
    """A client for the kubeconfig and context the flags name; Failure with one line if there is none."""
    try:
        return await KubeClient.from_kubeconfig(kubeconfig_path(args.kubeconfig), args.context)
    except Exception as e:  # the loader raises several kinds (ConfigException, OSError, ...)
        raise Failure(f"cannot load kubeconfig: {' '.join(str(e).split())}") from None


@dataclass
class Out:
    """Where a command prints: stdout (with colour only on a terminal) and stderr."""

    stdout: TextIO
    stderr: TextIO
    colour: bool

    @classmethod
    def std(cls) -> Out:
        return cls(sys.stdout, sys.stderr, use_colour(sys.stdout.isatty(), dict(os.environ)))

    def line(self, text: str = "") -> None:
        print(text, file=self.stdout, flush=True)

    def err(self, text: str) -> None:
        print(text, file=self.stderr, flush=True)


def dump(objs: list[dict[str, Any]], output: str, single: bool) -> str:
    """Objects as `-o json` / `-o yaml` print them: one object alone, several as a v1 List."""
    body: Any = objs[0] if single and len(objs) == 1 else {"apiVersion": "v1", "kind": "List", "items": objs}
    if output == "json":
        return json.dumps(body, indent=4)
    return yaml.safe_dump(body, sort_keys=False, default_flow_style=False).rstrip("\n")


def ref(res: Resource, ns: str, name: str) -> str:
    """How messages name an object: `helmrelease apps/web`, `gitsync prod/releases`."""
    return f"{res.kind.lower()} {ns}/{name}"
