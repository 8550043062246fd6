"""The `helmrelease-controller` command line.

    helmrelease-controller run --kubeconfig FILE [--namespace NS] [--concurrent N]
        [--leader-elect] [--helm PATH] [--log-format json|text] [--log-level info]

Without --kubeconfig it uses $KUBECONFIG, then the in-cluster service account.
SIGTERM and SIGINT shut down gracefully: running helm actions get `--shutdown-grace`
seconds to finish.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from typing import Any

from . import __version__

_STD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in _STD})
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STD)
        ts = time.strftime("%H:%M:%S", time.localtime(record.created))
        line = f"{ts} {record.levelname[:4]} {record.getMessage()}" + (f"  {extra}" if extra else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiohttp", "kubernetes", "pyhelm3", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="helmrelease-controller", description="Declarative Helm releases.")
    p.add_argument("--version", action="version", version=__version__)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the controller")
    run.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    run.add_argument("--context")
    run.add_argument("--namespace", help="watch one namespace (default: all)")
    run.add_argument("--concurrent", type=int, default=4, help="reconciles running at once (default 4)")
    run.add_argument("--leader-elect", action="store_true", help="take a Lease before acting (HA)")
    run.add_argument(
        "--leader-election-namespace", default=os.environ.get("POD_NAMESPACE", "helmrelease-system")
    )
    run.add_argument("--helm", default="helm", help="the helm binary (v3 or v4)")
    run.add_argument("--cache-dir", default=os.environ.get("HELMRELEASE_CACHE_DIR", "/tmp/helmrelease-cache"))
    run.add_argument(
        "--shutdown-grace", type=float, default=60.0, help="seconds running actions get on SIGTERM"
    )
    run.add_argument(
        "--plain-http-registry",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="an OCI registry to reach over plain HTTP (repeatable; HTTPS otherwise)",
    )
    run.add_argument("--metrics-addr", default=":8080", help='metrics, /healthz and /readyz ("" disables)')
    run.add_argument("--notifications-config", help="YAML file with Slack/webhook providers and routes")
    run.add_argument("--log-format", choices=["json", "text"], default="text")
    run.add_argument("--log-level", default="info")
    return p


async def _run(args: argparse.Namespace) -> int:
    from .controller import Controller, Options
    from .kube.client import KubeClient

    if args.kubeconfig:
        client = await KubeClient.from_kubeconfig(args.kubeconfig, args.context)
    else:
        client = await KubeClient.in_cluster()
    opts = Options(
        kubeconfig=args.kubeconfig,
        context=args.context,
        namespace=args.namespace,
        concurrent=args.concurrent,
        helm=args.helm,
        leader_elect=args.leader_elect,
        leader_namespace=args.leader_election_namespace,
        cache_dir=args.cache_dir,
        shutdown_grace=args.shutdown_grace,
        plain_http_registries=args.plain_http_registry,
        metrics_addr=args.metrics_addr,
        notifications_config=args.notifications_config,
    )
    if args.notifications_config:
        from .notify import ConfigError, load_config

        try:
            load_config(args.notifications_config)
        except ConfigError as e:
            print(f"helmrelease-controller: --notifications-config: {e}", file=sys.stderr)
            await client.close()
            return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    controller = Controller(opts, client)
    logging.getLogger("helmrelease_controller").info(
        "starting helmrelease-controller %s (concurrent=%d, namespace=%s, leader-elect=%s)",
        __version__,
        opts.concurrent,
        opts.namespace or "<all>",
        opts.leader_elect,
    )
    try:
        await controller.run(stop)
    finally:
        await client.close()
    return 0 if stop.is_set() else 1


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    setup_logging(args.log_format, args.log_level)
    if args.command == "run":
        return asyncio.run(_run(args))
    return 2


if __name__ == "__main__":
    sys.exit(main())
