"""What the controller's watch of Helm's storage costs in memory with full histories (issue 18).

The N = 10,000 benchmark installs each release once, so its storage holds one revision per release.
With `maxHistory: 5` a release keeps up to five: this measures the controller's StorageCache
(reconcile/storagecache.py: the informer's slimmed objects and the per-release index) holding
releases x history storage Secrets, built as helm labels them and decoded from JSON as a watch
delivers them, with tracemalloc (the Python heap the cache holds once filled).

    .venv/bin/python hack/storage_memory.py [--releases 10000] [--history 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helmrelease_controller.reconcile.storagecache import StorageCache


def storage_secret(i: int, version: int, history: int) -> dict[str, Any]:
    """The metadata of revision `version` of release app-<i> as a metadata-only watch shows it."""
    name, ns = f"app-{i:05d}", f"bench-{i // 10:04d}"
    meta = {
        "name": f"sh.helm.release.v1.{name}.v{version}",
        "namespace": ns,
        "uid": f"{i:08x}-{version:04x}-4e17-84bb-d65d06ed7bd8",
        "resourceVersion": str(1_000_000 + i * history + version),
        "creationTimestamp": "2026-12-04T17:50:56Z",
        "labels": {
            "owner": "helm",
            "name": name,
            "version": str(version),
            "status": "deployed" if version == history else "superseded",
            "modifiedAt": str(1_733_334_656 + version),
            "helmrelease.dev/digest": f"{i:08x}{version:032x}",
            "helmrelease.dev/name": name,
            "helmrelease.dev/namespace": ns,
        },
        "managedFields": [
            {
                "manager": "helm",
                "operation": "Update",
                "apiVersion": "v1",
                "time": "2026-12-04T17:50:57Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {"f:name": {}, "f:owner": {}}}, "f:type": {}},
            }
        ],
    }
    return {"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": meta}


def measure(releases: int, history: int) -> dict[str, Any]:
    """The StorageCache's heap with releases x history storage Secrets in it."""
    cache = StorageCache(client=None)  # type: ignore[arg-type]  # no API calls: filled by hand
    gc.collect()
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    for i in range(releases):  # one watch event each, decoded from JSON as the client does
        for v in range(1, history + 1):
            cache.informer._apply("ADDED", json.loads(json.dumps(storage_secret(i, v, history))))
    gc.collect()
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    secrets = releases * history
    assert len(cache.informer) == secrets
    return {
        "releases": releases,
        "history": history,
        "secrets": secrets,
        "heap_mib": round((after - before) / 2**20, 1),
        "bytes_per_secret": round((after - before) / secrets),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--releases", type=int, default=10_000)
    p.add_argument("--history", type=int, default=5)
    a = p.parse_args(argv)
    print(json.dumps(measure(a.releases, a.history)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
