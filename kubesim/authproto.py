"""Protobuf schemas of the authentication and authorization request bodies.

kubectl sends SelfSubjectAccessReview, SelfSubjectRulesReview, SelfSubjectReview and
TokenRequest bodies as `application/vnd.kubernetes.protobuf`; these tables (field
numbers from k8s.io/api's authorization/v1 and authentication/v1 generated.proto)
let `decode` read them (protobuf.py's envelope and decoder, with these tables).
"""

from __future__ import annotations

from typing import Any

from . import protobuf
from .protobuf import OBJECT_META, Schema

_s, _i64, _msg, _rep_s = protobuf._s, protobuf._i64, protobuf._msg, protobuf._rep_s

RESOURCE_ATTRIBUTES: Schema = {
    1: _s("namespace"), 2: _s("verb"), 3: _s("group"), 4: _s("version"), 5: _s("resource"),
    6: _s("subresource"), 7: _s("name"),
}  # fmt: skip
NON_RESOURCE_ATTRIBUTES: Schema = {1: _s("path"), 2: _s("verb")}
SELF_SAR_SPEC: Schema = {
    1: _msg("resourceAttributes", RESOURCE_ATTRIBUTES, ptr=True),
    2: _msg("nonResourceAttributes", NON_RESOURCE_ATTRIBUTES, ptr=True),
}
SAR_SPEC: Schema = {**SELF_SAR_SPEC, 3: _s("user"), 4: _rep_s("groups"), 6: _s("uid")}
RULES_REVIEW_SPEC: Schema = {1: _s("namespace")}
BOUND_OBJECT_REF: Schema = {1: _s("kind"), 2: _s("apiVersion"), 3: _s("name"), 4: _s("uid")}
TOKEN_REQUEST_SPEC: Schema = {
    1: _rep_s("audiences"),
    3: _msg("boundObjectRef", BOUND_OBJECT_REF, ptr=True),
    4: _i64("expirationSeconds", ptr=True),
}
TOKEN_REVIEW_SPEC: Schema = {1: _s("token"), 2: _rep_s("audiences")}


def _review(spec: Schema) -> Schema:
    return {1: _msg("metadata", OBJECT_META), 2: _msg("spec", spec)}


KINDS: dict[tuple[str, str], Schema] = {
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): _review(SELF_SAR_SPEC),
    ("authorization.k8s.io/v1", "SubjectAccessReview"): _review(SAR_SPEC),
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"): _review(SAR_SPEC),
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): _review(RULES_REVIEW_SPEC),
    ("authentication.k8s.io/v1", "SelfSubjectReview"): {1: _msg("metadata", OBJECT_META)},
    ("authentication.k8s.io/v1", "TokenRequest"): _review(TOKEN_REQUEST_SPEC),
    ("authentication.k8s.io/v1", "TokenReview"): _review(TOKEN_REVIEW_SPEC),
}


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf request body of one of KINDS, in its JSON form (protobuf.ProtobufError when it is not)."""
    view = memoryview(body)
    if bytes(view[: len(protobuf.MAGIC)]) != protobuf.MAGIC:
        raise protobuf.ProtobufError("not a Kubernetes protobuf body: missing k8s\\x00 magic prefix")
    envelope = protobuf._Reader(view, len(protobuf.MAGIC))
    type_meta: dict[str, Any] = {}
    raw = memoryview(b"")
    while not envelope.at_end():
        number, wire = envelope.tag()
        if number == 1 and wire == protobuf._LEN:
            type_meta = protobuf._decode_message(envelope.length_delimited(), protobuf.RUNTIME_TYPE_META)
        elif number == 2 and wire == protobuf._LEN:
            raw = envelope.length_delimited()
        else:
            envelope.skip(number, wire)
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    schema = KINDS.get((api_version, kind))
    if schema is None:
        raise protobuf.ProtobufError(f"unsupported kind {api_version}/{kind}")
    return {"apiVersion": api_version, "kind": kind, **protobuf._decode_message(raw, schema)}
