"""The `helmrelease-controller` command line.

    helmrelease-controller run --kubeconfig FILE [--namespace NS] [--concurrent N]
        [--leader-elect] [--helm PATH] [--log-format json|text] [--log-level info]

`run --help` lists every flag and its default. Without --kubeconfig it uses $KUBECONFIG, then
the in-cluster service account. A start that cannot work (bad kubeconfig or context, no cluster,
no helm, HelmRelease CRD not installed, no permission to list HelmReleases) is one line on stderr
(a JSON record with --log-format json) and exit code 2; see `preflight`. SIGTERM and SIGINT shut
down gracefully, also while waiting for the API server: running helm actions get
`--shutdown-grace` seconds to finish.
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
from typing import TYPE_CHECKING, Any

from . import __version__

if TYPE_CHECKING:
    from .controller import Options

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
    for noisy in ("aiohttp", "kubernetes", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="helmrelease-controller", description="Declarative Helm releases.")
    p.add_argument("--version", action="version", version=__version__)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="run the controller",
        description="Run the controller. A start that cannot work (no cluster, no helm, no CRD) exits 2.",
    )
    for flag, options in [*_cluster_flags(), *_controller_flags(), *_gitsync_and_log_flags()]:
        run.add_argument(flag, **options)
    from . import ops

    ops.register(sub)  # get, suspend, resume, reconcile, history, events (docs/cli.md)
    from . import fluxconvert_cli

    fluxconvert_cli.register(sub)  # convert: Flux HelmReleases to ours (docs/migrating-from-flux.md)
    return p


_Flag = tuple[str, dict[str, Any]]


def _flag(name: str, help: str, **options: Any) -> _Flag:
    """One `add_argument` of `run`: the flag, its help line and its other options."""
    return name, {"help": help, **options}


def _cluster_flags() -> list[_Flag]:
    """`run`'s flags for the cluster: which one, which namespace, leader election."""
    pod_namespace = os.environ.get("POD_NAMESPACE", "helmrelease-system")
    return [
        _flag(
            "--kubeconfig",
            "kubeconfig file (default: $KUBECONFIG; unset: the in-cluster service account)",
            metavar="FILE",
        ),
        _flag("--context", "kubeconfig context to use (default: the current context)"),
        _flag("--namespace", "watch one namespace (default: all namespaces)"),
        _flag(
            "--concurrent",
            "helm processes (installs, upgrades, ...) running at once; twice as many reconciles run, so "
            "their API calls overlap helm (default: %(default)s)",
            type=int,
            default=4,
        ),
        _flag("--leader-elect", "take a Lease before acting, for HA (default: off)", action="store_true"),
        _flag(
            "--shard-key",
            "own only the HelmReleases and GitSyncs labelled helmrelease.dev/shard=VALUE, with a Lease "
            "of this shard's own (default: only those without the label; docs/sharding.md)",
            metavar="VALUE",
            type=_shard_key,
        ),
        _flag(
            "--leader-election-namespace",
            "namespace of the leader-election Lease (default: $POD_NAMESPACE, else helmrelease-system)",
            metavar="NS",
            default=pod_namespace,
        ),
    ]


def _shard_key(value: str) -> str:
    """--shard-key's type: a label value, else a usage error saying why (exit 2)."""
    from .kube.sharding import ShardKeyError, validate_shard_key

    try:
        return validate_shard_key(value)
    except ShardKeyError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _positive_seconds(value: str) -> float:
    """A flag's type: seconds, a number above zero, else a usage error (exit 2)."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be above zero: {value!r}")
    return seconds


def _controller_flags() -> list[_Flag]:
    """`run`'s flags for helm, chart sources, shutdown, metrics and notifications."""
    cache_dir = os.environ.get("HELMRELEASE_CACHE_DIR", "/tmp/helmrelease-cache")
    return [
        _flag("--helm", "the helm binary, v3 or v4 (default: %(default)s, on PATH)", default="helm"),
        _flag(
            "--cache-dir",
            "chart and git mirror cache (default: $HELMRELEASE_CACHE_DIR, else /tmp/helmrelease-cache)",
            metavar="DIR",
            default=cache_dir,
        ),
        _flag(
            "--shutdown-grace",
            "seconds running helm actions get to finish on SIGTERM (default: %(default)s)",
            type=float,
            default=60.0,
            metavar="SECONDS",
        ),
        _flag(
            "--source-interval",
            "seconds between looks at each chart source for new versions, commits and tags; a "
            "HelmRelease moves within this of a change, whatever its interval (default: %(default)s)",
            type=_positive_seconds,
            default=60.0,
            metavar="SECONDS",
        ),
        _flag(
            "--plain-http-registry",
            "an OCI registry to reach over plain HTTP; repeatable (default: none, HTTPS everywhere)",
            action="append",
            default=[],
            metavar="HOST[:PORT]",
        ),
        _flag(
            "--metrics-addr",
            'address of /metrics, /healthz and /readyz; "" disables them (default: %(default)s)',
            default=":8080",
            metavar="[HOST]:PORT",
        ),
        _flag(
            "--notifications-config",
            "YAML file with Slack/webhook providers and routes (default: none, no notifications)",
            metavar="FILE",
        ),
    ]


def _gitsync_and_log_flags() -> list[_Flag]:
    """`run`'s flags for GitSyncs and logging."""
    return [
        _flag(
            "--no-gitsync",
            "do not serve GitSync objects (default: off; GitSyncs are served when their CRD is installed)",
            dest="gitsync",
            action="store_false",
        ),
        _flag(
            "--gitsync-concurrent",
            "GitSync syncs run at once (default: %(default)s)",
            type=int,
            default=2,
            metavar="N",
        ),
        _flag(
            "--gitsync-cross-namespace",
            "let a GitSync apply objects in other namespaces than its own (default: refused)",
            action="store_true",
        ),
        _flag(
            "--default-service-account",
            "helm acts as this ServiceAccount (of the HelmRelease's namespace) for HelmReleases that "
            "name none, so no tenant gets the controller's identity (default: the controller's own)",
            metavar="NAME",
        ),
        _flag(
            "--no-cross-namespace-refs",
            "refuse HelmReleases whose targetNamespace, storageNamespace or dependsOn name another "
            "namespace than their own (default: allowed)",
            action="store_true",
        ),
        _flag(
            "--log-format", "log line format (default: %(default)s)", choices=["json", "text"], default="text"
        ),
        _flag(
            "--log-level",
            "least severe level logged (default: %(default)s)",
            default="info",
            type=str.lower,
            choices=["debug", "info", "warning", "error"],
        ),
    ]


def _fatal(log_format: str, message: str) -> int:
    """A start that cannot work: one line on stderr (a JSON record with --log-format json); exit 2."""
    if log_format == "json":
        logging.getLogger("helmrelease_controller").error(message)
    else:
        print(f"helmrelease-controller: error: {message}", file=sys.stderr)
    return 2


async def _checked_helm(args: argparse.Namespace) -> str:
    """What preflight checks before connecting: helm (its version is returned) and the
    notifications config. Raises preflight.StartupError."""
    from . import preflight

    preflight.check_helm(args.helm)
    helm_version = await preflight.helm_version(args.helm)
    if args.notifications_config:
        from .notify import ConfigError, load_config

        try:
            load_config(args.notifications_config)
        except ConfigError as e:
            raise preflight.StartupError(f"--notifications-config: {e}") from None
    return helm_version


def _options(args: argparse.Namespace, kubeconfig: str | None) -> Options:
    """The controller's Options from `run`'s flags."""
    from .controller import Options

    return Options(
        kubeconfig=kubeconfig,
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
        gitsync=args.gitsync,
        gitsync_concurrent=args.gitsync_concurrent,
        gitsync_cross_namespace=args.gitsync_cross_namespace,
        default_service_account=args.default_service_account,
        no_cross_namespace_refs=args.no_cross_namespace_refs,
        shard_key=args.shard_key,
        source_interval=args.source_interval,
    )


async def _run(args: argparse.Namespace) -> int:
    from . import preflight
    from .controller import Controller
    from .kube.sharding import describe

    log = logging.getLogger("helmrelease_controller")
    kubeconfig = args.kubeconfig or os.environ.get("KUBECONFIG") or None
    try:
        helm_version = await _checked_helm(args)
    except preflight.StartupError as e:
        return _fatal(args.log_format, str(e))
    # SIGTERM and SIGINT are honoured from here on, also while waiting for the API server.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        client = await preflight.connect(kubeconfig, args.context)
    except preflight.StartupError as e:
        return _fatal(args.log_format, str(e))
    try:
        if not await preflight.check_api(client, args.namespace, stop):
            return 0  # stopped before the API server answered
        for tool in preflight.missing_tools():
            log.warning("%s not found on PATH: HelmReleases with spec.chart.git sources will fail", tool)
        opts = _options(args, kubeconfig)
        controller = Controller(opts, client)
        log.info(
            "starting helmrelease-controller %s (helm %s, concurrent=%d, namespace=%s, leader-elect=%s, %s)",
            __version__,
            helm_version,
            opts.concurrent,
            opts.namespace or "<all>",
            opts.leader_elect,
            describe(opts.shard_key),
        )
        await controller.run(stop)
    except preflight.StartupError as e:
        return _fatal(args.log_format, str(e))
    finally:
        await client.close()
    return 0 if stop.is_set() else 1


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "convert":
        from . import fluxconvert_cli

        return fluxconvert_cli.main(args)
    if getattr(args, "handler", None) is not None:  # an operations command (ops/)
        from . import ops

        return ops.main(args)
    setup_logging(args.log_format, args.log_level)
    if args.command != "run":
        return 2
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # not foreseen by preflight: still one record (the traceback inside, in JSON)
        log = logging.getLogger("helmrelease_controller")
        log.critical("helmrelease-controller stopped on an unexpected error: %s", e, exc_info=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
