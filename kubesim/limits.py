"""Size limits: what a real API server (and the etcd behind it) refuses for being too big.

- A request body over 3 MiB: 413 `Request entity too large: limit is 3145728` (the
  apiserver's default --max-request-bytes, checked before decoding).
- All annotations together (keys and values) over 256 KiB: 422
  `metadata.annotations: Too long: may not be more than 262144 bytes` (every kind,
  ValidateObjectMeta; the classic client-side `kubectl apply` of a big object).
- A Secret's data over 1 MiB: 422 `data: Too long: ...`; a ConfigMap's data and
  binaryData over 1 MiB: 422 `[]: Too long: ...` (the path is empty: the whole object).
- A stored object over etcd's default request limit (1.5 MiB, --max-request-bytes):
  500 `etcdserver: request is too large` (reason unknown: the apiserver passes the
  etcd error through). Measured on the JSON encoding, which is what etcd holds for
  custom resources; built-in kinds are protobuf there, a little smaller.

`errors` is pure (`field: message` strings, as `validation`); the two checks raise
the store's ApiError.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

MAX_REQUEST_BYTES = 3 * 1024 * 1024
MAX_ANNOTATIONS_BYTES = 256 * 1024
MAX_DATA_BYTES = 1024 * 1024
ETCD_MAX_REQUEST_BYTES = 1536 * 1024


def _too_long(field: str, limit: int) -> str:
    return f"{field}: Too long: may not be more than {limit} bytes"


def _decoded_len(value: Any) -> int:
    try:
        return len(base64.b64decode(str(value), validate=True))
    except (binascii.Error, ValueError):
        return len(str(value).encode())


def annotations_size(annotations: Any) -> int:
    if not isinstance(annotations, dict):
        return 0
    return sum(len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items())


def data_size(group: str, kind: str, obj: dict[str, Any]) -> int:
    """The bytes a Secret's or ConfigMap's data counts for the 1 MiB limit (0 for other kinds)."""
    if group != "" or kind not in ("Secret", "ConfigMap"):
        return 0
    data = _mapping(obj, "data")
    if kind == "Secret":
        sizes = {k: _decoded_len(v) for k, v in data.items()}
        sizes.update({k: len(str(v).encode()) for k, v in _mapping(obj, "stringData").items()})  # folded in
        return sum(sizes.values())
    text = sum(len(str(v).encode()) for v in data.values())
    return text + sum(_decoded_len(v) for v in _mapping(obj, "binaryData").values())


def _mapping(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def errors(group: str, kind: str, obj: dict[str, Any]) -> list[str]:
    """The 422 `Too long` errors of an object (annotations; Secret and ConfigMap data)."""
    errs = []
    if annotations_size((obj.get("metadata") or {}).get("annotations")) > MAX_ANNOTATIONS_BYTES:
        errs.append(_too_long("metadata.annotations", MAX_ANNOTATIONS_BYTES))
    if data_size(group, kind, obj) > MAX_DATA_BYTES:
        errs.append(_too_long("data" if kind == "Secret" else "[]", MAX_DATA_BYTES))
    return errs


def check_body(size: int) -> None:
    """413 for a request body over the apiserver's limit."""
    if size > MAX_REQUEST_BYTES:
        from .store import ApiError

        raise ApiError(
            413, "RequestEntityTooLarge", f"Request entity too large: limit is {MAX_REQUEST_BYTES}"
        )


def check_stored(obj: dict[str, Any]) -> None:
    """500 `etcdserver: request is too large` for an object etcd would refuse to store."""
    if len(json.dumps(obj, separators=(",", ":"))) > ETCD_MAX_REQUEST_BYTES:
        from .store import ApiError

        raise ApiError(500, "", "etcdserver: request is too large")
