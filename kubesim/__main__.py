"""`python -m kubesim`: run the API server until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from .sim import KubeSim


async def _main(args: argparse.Namespace) -> None:
    sim = KubeSim(
        port=args.port, bookmark_interval=args.bookmark_interval, rbac=args.rbac, pods=not args.no_pods
    )
    url = await sim.start_async()
    if args.kubeconfig_out:
        sim.write_kubeconfig(args.kubeconfig_out)
    print(url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sim.stop_async()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kubesim", description="In-memory Kubernetes API server.")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: pick a free one)")
    p.add_argument("--kubeconfig-out", help="write a kubeconfig for this server to FILE")
    p.add_argument("--bookmark-interval", type=float, default=5.0, help="seconds between watch bookmarks")
    p.add_argument(
        "--rbac", action="store_true",
        help="authenticate bearer tokens and authorize with RBAC (default: every request is the admin)",
    )  # fmt: skip
    p.add_argument(
        "--no-pods", action="store_true",
        help="workload controllers set statuses only: no Pods, kubelet or their events (cheaper)",
    )  # fmt: skip
    args = p.parse_args(argv)
    try:
        asyncio.run(_main(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
