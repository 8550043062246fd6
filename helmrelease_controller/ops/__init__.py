"""The operations command line: `get`, `suspend`, `resume`, `reconcile`, `history`, `events`,
`values`, `diff`, `tree`, `check` and `why` of HelmReleases and GitSyncs, as subcommands of
`helmrelease-controller` and as the kubectl plugin `kubectl-hr` (`kubectl hr get`; `convert` too).
kubectl's conventions: `--kubeconfig`, `--context`, `-n/--namespace`, `-A`,
`-o table|wide|json|yaml`; exit 0 ok, 1 the thing failed, 2 usage.

One module per command (`register` adds its parser, `run` does it); `common` holds the shared
flags and connection, `fmt` and `rows` the pure formatting. docs/cli.md shows every command.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from ..kube.client import ApiError
from . import check, diff, events, get, history, reconcile, suspend, tree, values, why
from .common import FAILED, Failure, Out, connect

COMMANDS = (
    "get",
    "suspend",
    "resume",
    "reconcile",
    "history",
    "events",
    "values",
    "diff",
    "tree",
    "check",
    "why",
)
_MODULES = (get, suspend, reconcile, history, events, values, diff, tree, check, why)


def register(sub: Any) -> None:
    """Add the operations subcommands to an argparse subparsers object."""
    for module in _MODULES:
        module.register(sub)


def main(args: argparse.Namespace, out: Out | None = None) -> int:
    """Run the parsed operations command; its exit code."""
    out = out or Out.std()
    try:
        return asyncio.run(_run(args, out))
    except KeyboardInterrupt:
        return 130
    except Failure as e:
        out.err(f"error: {e}")
        return FAILED
    except ApiError as e:
        out.err(f"Error from server ({e.reason or e.status}): {' '.join(str(e.message).split())}")
        return FAILED


async def _run(args: argparse.Namespace, out: Out) -> int:
    client = await connect(args)
    try:
        code: int = await args.handler(args, client, out)
        return code
    finally:
        await client.close()


def plugin_parser() -> argparse.ArgumentParser:
    """`kubectl hr ...`: the operations commands alone."""
    p = argparse.ArgumentParser(
        prog="kubectl hr", description="Operate HelmReleases and GitSyncs (helmrelease.dev)."
    )
    sub = p.add_subparsers(dest="command", required=True)
    register(sub)
    from .. import fluxconvert_cli

    fluxconvert_cli.register(sub)  # convert, as `helmrelease-controller convert`
    return p


def plugin_main(argv: list[str] | None = None) -> int:
    """The `kubectl-hr` console script."""
    args = plugin_parser().parse_args(argv)
    if args.command == "convert":
        from .. import fluxconvert_cli

        return fluxconvert_cli.main(args)
    return main(args)


if __name__ == "__main__":
    sys.exit(plugin_main())
