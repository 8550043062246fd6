"""Kubernetes protobuf wire format for a few built-in kinds (stdlib only).

client-go (inside helm and kubectl) sends create/update bodies of built-in
types as ``application/vnd.kubernetes.protobuf``. Helm's release storage
writes Secrets (and ConfigMaps with the configmap driver) that way, and
client-go may also send Namespaces, Events, ServiceAccounts, Services,
Leases and ``DeleteOptions`` bodies. ``kubectl create`` generators send
Deployments, Jobs, CronJobs, Roles, ClusterRoles, (Cluster)RoleBindings,
Ingresses, PodDisruptionBudgets, PriorityClasses and ResourceQuotas the same
way. kubesim stores JSON, so this module turns such a body into the JSON form
Kubernetes would accept, and back. Large pod-template sub-messages (volumes,
affinity, probes, lifecycle, ...) are not described and are skipped as unknown.

Envelope: 4 magic bytes ``k8s\\x00`` then a ``runtime.Unknown`` message::

    message Unknown {
      optional TypeMeta typeMeta = 1;        // runtime.TypeMeta: apiVersion = 1, kind = 2
      optional bytes raw = 2;                // the encoded object, e.g. a core/v1 Secret
      optional string contentEncoding = 3;
      optional string contentType = 4;
    }

Note that ``runtime.TypeMeta`` (apiVersion 1, kind 2) differs from the
``meta/v1`` ``TypeMeta`` message (kind 1, apiVersion 2); the envelope uses
the former.

The decoder is schema driven: every message is a table
``{field_number: Field}`` naming the JSON key and the value type. Unknown
fields are skipped. Field numbers were checked against the ``generated.proto``
files of k8s.io/api and k8s.io/apimachinery; the few taken from memory are
marked ``# from memory`` below.

Zero values. Go's generated marshallers write every non-pointer field, even
when empty (``name: ""``, ``generation: 0``, an empty ``creationTimestamp``
message), and write pointer fields (``*bool``, ``*int32``, ``*string``,
``*Time``) only when set. Go's JSON encoder then drops the empty ones through
``omitempty``. This decoder does the same: an empty string, zero number,
``false``, empty list or empty map of a non-pointer field is omitted, while a
pointer field (``ptr=True`` in the tables) is emitted whenever present, even
when zero (``immutable: false``, ``leaseTransitions: 0``). Nested messages
are always emitted (``spec: {}``), like Go's JSON for struct fields, except
``Time``/``MicroTime``: an empty time message is Go's zero time and is
omitted (Go would print ``null``).

Time is RFC 3339 with seconds precision (``2006-01-02T15:04:05Z``; Go drops
the nanoseconds of ``metav1.Time`` both ways); MicroTime keeps six fractional
digits (``2006-01-02T15:04:05.000000Z``). ``bytes`` values (``Secret.data``,
``ConfigMap.binaryData``) are standard base64 strings, as in Kubernetes JSON.
``IntOrString`` becomes a bare int or string; ``resource.Quantity`` (and
``map<string, Quantity>`` resource lists) its string form. An embedded Go
struct (``json:",inline"``, e.g. ``IngressRule.ingressRuleValue``) is its own
proto field but its keys live in the parent JSON object (``inline=True``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAGIC",
    "PROTOBUF_CONTENT_TYPE",
    "ProtobufError",
    "decode",
    "encode",
    "supported_kinds",
]

PROTOBUF_CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

# Wire types.
_VARINT = 0
_FIXED64 = 1
_LEN = 2
_START_GROUP = 3
_END_GROUP = 4
_FIXED32 = 5

_MAX_DEPTH = 64


class ProtobufError(Exception):
    """The body is not a valid Kubernetes protobuf message of a supported kind."""


# --------------------------------------------------------------------------
# Schema description
# --------------------------------------------------------------------------

# Value types.
STRING = "string"
INT64 = "int64"
INT32 = "int32"
BOOL = "bool"
BYTES = "bytes"  # base64 string in JSON
MESSAGE = "message"  # nested schema -> dict
TIME = "time"  # metav1.Time -> RFC 3339, seconds precision
MICROTIME = "microtime"  # metav1.MicroTime -> RFC 3339, microseconds
MAP_STRING = "map_string"  # map<string, string>
MAP_BYTES = "map_bytes"  # map<string, bytes> -> base64 values
INT_OR_STRING = "int_or_string"  # intstr.IntOrString -> int or str
FIELDS_V1 = "fields_v1"  # metav1.FieldsV1 {bytes Raw = 1} holding JSON -> parsed JSON
QUANTITY = "quantity"  # resource.Quantity {string string = 1} -> "500m"
MAP_QUANTITY = "map_quantity"  # map<string, Quantity> (a ResourceList) -> {"cpu": "500m"}

_SCALAR_WIRE = {STRING: _LEN, BYTES: _LEN, INT64: _VARINT, INT32: _VARINT, BOOL: _VARINT}
_MAP_TYPES = (MAP_STRING, MAP_BYTES, MAP_QUANTITY)


@dataclass(frozen=True)
class Field:
    """One field of a message: JSON key, value type and proto semantics."""

    name: str
    type: str
    schema: Schema | None = None  # for MESSAGE
    repeated: bool = False
    ptr: bool = False  # Go pointer field: emitted whenever present, even if zero
    inline: bool = False  # Go embedded struct (json:",inline"): its keys live in the parent object


Schema = dict[int, Field]


def _s(name: str, *, ptr: bool = False) -> Field:
    return Field(name, STRING, ptr=ptr)


def _i32(name: str, *, ptr: bool = False) -> Field:
    return Field(name, INT32, ptr=ptr)


def _i64(name: str, *, ptr: bool = False) -> Field:
    return Field(name, INT64, ptr=ptr)


def _b(name: str, *, ptr: bool = False) -> Field:
    return Field(name, BOOL, ptr=ptr)


def _msg(name: str, schema: Schema, *, ptr: bool = False) -> Field:
    return Field(name, MESSAGE, schema=schema, ptr=ptr)


def _rep_msg(name: str, schema: Schema) -> Field:
    return Field(name, MESSAGE, schema=schema, repeated=True)


def _rep_s(name: str) -> Field:
    return Field(name, STRING, repeated=True)


def _time(name: str, *, ptr: bool = False) -> Field:
    return Field(name, TIME, ptr=ptr)


def _micro(name: str, *, ptr: bool = False) -> Field:
    return Field(name, MICROTIME, ptr=ptr)


def _map_s(name: str) -> Field:
    return Field(name, MAP_STRING)


def _map_q(name: str) -> Field:
    return Field(name, MAP_QUANTITY)


def _ios(name: str, *, ptr: bool = False) -> Field:
    return Field(name, INT_OR_STRING, ptr=ptr)


def _inline(name: str, schema: Schema) -> Field:
    return Field(name, MESSAGE, schema=schema, inline=True)


# ---- k8s.io/apimachinery/pkg/runtime/generated.proto --------------------

RUNTIME_TYPE_META: Schema = {
    1: _s("apiVersion"),
    2: _s("kind"),
}

# For reference: decode() reads this envelope by hand, to keep ``raw`` as bytes.
RUNTIME_UNKNOWN: Schema = {
    1: _msg("typeMeta", RUNTIME_TYPE_META),
    2: Field("raw", BYTES),
    3: _s("contentEncoding"),
    4: _s("contentType"),
}

# ---- k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto ---------------

OWNER_REFERENCE: Schema = {
    1: _s("kind", ptr=True),  # json:"kind" (no omitempty)
    3: _s("name", ptr=True),  # json:"name"
    4: _s("uid", ptr=True),  # json:"uid"
    5: _s("apiVersion", ptr=True),  # json:"apiVersion"
    6: _b("controller", ptr=True),
    7: _b("blockOwnerDeletion", ptr=True),
}

MANAGED_FIELDS_ENTRY: Schema = {
    1: _s("manager"),
    2: _s("operation"),
    3: _s("apiVersion"),
    4: _time("time", ptr=True),
    6: _s("fieldsType"),
    7: Field("fieldsV1", FIELDS_V1, ptr=True),
    8: _s("subresource"),
}

OBJECT_META: Schema = {
    1: _s("name"),
    2: _s("generateName"),
    3: _s("namespace"),
    4: _s("selfLink"),
    5: _s("uid"),
    6: _s("resourceVersion"),
    7: _i64("generation"),
    8: _time("creationTimestamp"),
    9: _time("deletionTimestamp", ptr=True),
    10: _i64("deletionGracePeriodSeconds", ptr=True),
    11: _map_s("labels"),
    12: _map_s("annotations"),
    13: _rep_msg("ownerReferences", OWNER_REFERENCE),
    14: _rep_s("finalizers"),
    # 15 was clusterName (removed in 1.25): skipped as unknown.
    17: _rep_msg("managedFields", MANAGED_FIELDS_ENTRY),
}

CONDITION: Schema = {  # metav1.Condition
    1: _s("type", ptr=True),  # json:"type"
    2: _s("status", ptr=True),  # json:"status"
    3: _i64("observedGeneration"),
    4: _time("lastTransitionTime"),
    5: _s("reason", ptr=True),  # json:"reason"
    6: _s("message", ptr=True),  # json:"message"
}

PRECONDITIONS: Schema = {
    1: _s("uid", ptr=True),
    2: _s("resourceVersion", ptr=True),
}

DELETE_OPTIONS: Schema = {
    1: _i64("gracePeriodSeconds", ptr=True),
    2: _msg("preconditions", PRECONDITIONS, ptr=True),
    3: _b("orphanDependents", ptr=True),
    4: _s("propagationPolicy", ptr=True),
    5: _rep_s("dryRun"),
    6: _b("ignoreStoreReadErrorWithClusterBreakingPotential", ptr=True),  # from memory (1.32+)
}

LABEL_SELECTOR_REQUIREMENT: Schema = {
    1: _s("key", ptr=True),  # json:"key" (no omitempty)
    2: _s("operator", ptr=True),  # json:"operator"
    3: _rep_s("values"),
}

LABEL_SELECTOR: Schema = {
    1: _map_s("matchLabels"),
    2: _rep_msg("matchExpressions", LABEL_SELECTOR_REQUIREMENT),
}

# ---- k8s.io/api/core/v1/generated.proto ---------------------------------

OBJECT_REFERENCE: Schema = {
    1: _s("kind"),
    2: _s("namespace"),
    3: _s("name"),
    4: _s("uid"),
    5: _s("apiVersion"),
    6: _s("resourceVersion"),
    7: _s("fieldPath"),
}

LOCAL_OBJECT_REFERENCE: Schema = {
    1: _s("name"),
}

SECRET: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: Field("data", MAP_BYTES),
    3: _s("type"),
    4: _map_s("stringData"),
    5: _b("immutable", ptr=True),
}

CONFIG_MAP: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _map_s("data"),
    3: Field("binaryData", MAP_BYTES),
    4: _b("immutable", ptr=True),
}

NAMESPACE_CONDITION: Schema = {
    1: _s("type", ptr=True),  # json:"type"
    2: _s("status", ptr=True),  # json:"status"
    4: _time("lastTransitionTime"),
    5: _s("reason"),
    6: _s("message"),
}

NAMESPACE_SPEC: Schema = {
    1: _rep_s("finalizers"),
}

NAMESPACE_STATUS: Schema = {
    1: _s("phase"),
    2: _rep_msg("conditions", NAMESPACE_CONDITION),
}

NAMESPACE: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _msg("spec", NAMESPACE_SPEC),
    3: _msg("status", NAMESPACE_STATUS),
}

SERVICE_ACCOUNT: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _rep_msg("secrets", OBJECT_REFERENCE),
    3: _rep_msg("imagePullSecrets", LOCAL_OBJECT_REFERENCE),
    4: _b("automountServiceAccountToken", ptr=True),
}

EVENT_SOURCE: Schema = {
    1: _s("component"),
    2: _s("host"),
}

CORE_EVENT_SERIES: Schema = {
    1: _i32("count"),
    2: _micro("lastObservedTime"),
}

CORE_EVENT: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _msg("involvedObject", OBJECT_REFERENCE),
    3: _s("reason"),
    4: _s("message"),
    5: _msg("source", EVENT_SOURCE),
    6: _time("firstTimestamp"),
    7: _time("lastTimestamp"),
    8: _i32("count"),
    9: _s("type"),
    10: _micro("eventTime"),
    11: _msg("series", CORE_EVENT_SERIES, ptr=True),
    12: _s("action"),
    13: _msg("related", OBJECT_REFERENCE, ptr=True),
    14: _s("reportingComponent"),
    15: _s("reportingInstance"),
}

CLIENT_IP_CONFIG: Schema = {
    1: _i32("timeoutSeconds", ptr=True),
}

SESSION_AFFINITY_CONFIG: Schema = {
    1: _msg("clientIP", CLIENT_IP_CONFIG, ptr=True),
}

SERVICE_PORT: Schema = {
    1: _s("name"),
    2: _s("protocol"),
    3: _i32("port", ptr=True),  # json:"port" (required)
    4: Field("targetPort", INT_OR_STRING),
    5: _i32("nodePort"),
    6: _s("appProtocol", ptr=True),
}

SERVICE_SPEC: Schema = {
    1: _rep_msg("ports", SERVICE_PORT),
    2: _map_s("selector"),
    3: _s("clusterIP"),
    4: _s("type"),
    5: _rep_s("externalIPs"),
    7: _s("sessionAffinity"),
    8: _s("loadBalancerIP"),
    9: _rep_s("loadBalancerSourceRanges"),
    10: _s("externalName"),
    11: _s("externalTrafficPolicy"),
    12: _i32("healthCheckNodePort"),
    13: _b("publishNotReadyAddresses"),
    14: _msg("sessionAffinityConfig", SESSION_AFFINITY_CONFIG, ptr=True),
    # 16 was topologyKeys (removed in 1.22): skipped as unknown.
    17: _s("ipFamilyPolicy", ptr=True),
    18: _rep_s("clusterIPs"),
    19: _rep_s("ipFamilies"),
    20: _b("allocateLoadBalancerNodePorts", ptr=True),
    21: _s("loadBalancerClass", ptr=True),
    22: _s("internalTrafficPolicy", ptr=True),
    23: _s("trafficDistribution", ptr=True),  # from memory (1.30+)
}

PORT_STATUS: Schema = {  # from memory
    1: _i32("port", ptr=True),  # json:"port"
    2: _s("protocol", ptr=True),  # json:"protocol"
    3: _s("error", ptr=True),
}

LOAD_BALANCER_INGRESS: Schema = {
    1: _s("ip"),
    2: _s("hostname"),
    3: _s("ipMode", ptr=True),  # from memory (1.29+)
    4: _rep_msg("ports", PORT_STATUS),
}

LOAD_BALANCER_STATUS: Schema = {
    1: _rep_msg("ingress", LOAD_BALANCER_INGRESS),
}

SERVICE_STATUS: Schema = {
    1: _msg("loadBalancer", LOAD_BALANCER_STATUS),
    2: _rep_msg("conditions", CONDITION),
}

SERVICE: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _msg("spec", SERVICE_SPEC),
    3: _msg("status", SERVICE_STATUS),
}

# -- Pods (inside workload templates) --

CONTAINER_PORT: Schema = {
    1: _s("name"),
    2: _i32("hostPort"),
    3: _i32("containerPort", ptr=True),  # json:"containerPort" (no omitempty)
    4: _s("protocol"),
    5: _s("hostIP"),
}

OBJECT_FIELD_SELECTOR: Schema = {  # from memory
    1: _s("apiVersion"),
    2: _s("fieldPath", ptr=True),  # json:"fieldPath"
}

RESOURCE_FIELD_SELECTOR: Schema = {  # from memory
    1: _s("containerName"),
    2: _s("resource", ptr=True),  # json:"resource"
    3: Field("divisor", QUANTITY),
}

KEY_SELECTOR: Schema = {  # ConfigMapKeySelector / SecretKeySelector, from memory
    1: _inline("localObjectReference", LOCAL_OBJECT_REFERENCE),
    2: _s("key", ptr=True),  # json:"key"
    3: _b("optional", ptr=True),
}

ENV_VAR_SOURCE: Schema = {
    1: _msg("fieldRef", OBJECT_FIELD_SELECTOR, ptr=True),
    2: _msg("resourceFieldRef", RESOURCE_FIELD_SELECTOR, ptr=True),
    3: _msg("configMapKeyRef", KEY_SELECTOR, ptr=True),
    4: _msg("secretKeyRef", KEY_SELECTOR, ptr=True),
}

ENV_VAR: Schema = {
    1: _s("name", ptr=True),  # json:"name"
    2: _s("value"),
    3: _msg("valueFrom", ENV_VAR_SOURCE, ptr=True),
}

ENV_SOURCE: Schema = {  # ConfigMapEnvSource / SecretEnvSource, from memory
    1: _inline("localObjectReference", LOCAL_OBJECT_REFERENCE),
    2: _b("optional", ptr=True),
}

ENV_FROM_SOURCE: Schema = {
    1: _s("prefix"),
    2: _msg("configMapRef", ENV_SOURCE, ptr=True),
    3: _msg("secretRef", ENV_SOURCE, ptr=True),
}

RESOURCE_CLAIM: Schema = {  # from memory
    1: _s("name", ptr=True),  # json:"name"
    2: _s("request"),
}

RESOURCE_REQUIREMENTS: Schema = {  # from memory (wire-checked: empty message in kubectl bodies)
    1: _map_q("limits"),
    2: _map_q("requests"),
    3: _rep_msg("claims", RESOURCE_CLAIM),
}

VOLUME_MOUNT: Schema = {  # from memory
    1: _s("name", ptr=True),  # json:"name"
    2: _b("readOnly"),
    3: _s("mountPath", ptr=True),  # json:"mountPath"
    4: _s("subPath"),
    5: _s("mountPropagation", ptr=True),
    6: _s("subPathExpr"),
    7: _s("recursiveReadOnly", ptr=True),
}

CONTAINER_SECURITY_CONTEXT: Schema = {  # minimal, from memory; all pointer fields
    2: _b("privileged", ptr=True),
    4: _i64("runAsUser", ptr=True),
    5: _b("runAsNonRoot", ptr=True),
    6: _b("readOnlyRootFilesystem", ptr=True),
    7: _b("allowPrivilegeEscalation", ptr=True),
    8: _i64("runAsGroup", ptr=True),
}

CONTAINER: Schema = {  # numbers checked against EphemeralContainerCommon, a field-for-field copy
    1: _s("name", ptr=True),  # json:"name"
    2: _s("image"),
    3: _rep_s("command"),
    4: _rep_s("args"),
    5: _s("workingDir"),
    6: _rep_msg("ports", CONTAINER_PORT),
    7: _rep_msg("env", ENV_VAR),
    8: _msg("resources", RESOURCE_REQUIREMENTS),
    9: _rep_msg("volumeMounts", VOLUME_MOUNT),
    # 10 livenessProbe, 11 readinessProbe, 12 lifecycle, 22 startupProbe: skipped
    13: _s("terminationMessagePath"),
    14: _s("imagePullPolicy"),
    15: _msg("securityContext", CONTAINER_SECURITY_CONTEXT, ptr=True),
    16: _b("stdin"),
    17: _b("stdinOnce"),
    18: _b("tty"),
    19: _rep_msg("envFrom", ENV_FROM_SOURCE),
    20: _s("terminationMessagePolicy"),
    # 21 volumeDevices, 23 resizePolicy, 25 restartPolicyRules: skipped
    24: _s("restartPolicy", ptr=True),
}

POD_SECURITY_CONTEXT: Schema = {  # minimal; all pointer fields
    2: _i64("runAsUser", ptr=True),
    3: _b("runAsNonRoot", ptr=True),
    5: _i64("fsGroup", ptr=True),
    6: _i64("runAsGroup", ptr=True),
    9: _s("fsGroupChangePolicy", ptr=True),
    12: _s("supplementalGroupsPolicy", ptr=True),
    13: _s("seLinuxChangePolicy", ptr=True),
}

TOLERATION: Schema = {  # from memory
    1: _s("key"),
    2: _s("operator"),
    3: _s("value"),
    4: _s("effect"),
    5: _i64("tolerationSeconds", ptr=True),
}

POD_SPEC: Schema = {
    # 1 volumes: skipped (VolumeSource has ~30 variants)
    2: _rep_msg("containers", CONTAINER),
    3: _s("restartPolicy"),
    4: _i64("terminationGracePeriodSeconds", ptr=True),
    5: _i64("activeDeadlineSeconds", ptr=True),
    6: _s("dnsPolicy"),
    7: _map_s("nodeSelector"),
    8: _s("serviceAccountName"),
    9: _s("serviceAccount"),
    10: _s("nodeName"),
    11: _b("hostNetwork"),
    12: _b("hostPID"),
    13: _b("hostIPC"),
    14: _msg("securityContext", POD_SECURITY_CONTEXT, ptr=True),
    15: _rep_msg("imagePullSecrets", LOCAL_OBJECT_REFERENCE),
    16: _s("hostname"),
    17: _s("subdomain"),
    # 18 affinity: skipped
    19: _s("schedulerName"),
    20: _rep_msg("initContainers", CONTAINER),
    21: _b("automountServiceAccountToken", ptr=True),
    22: _rep_msg("tolerations", TOLERATION),
    # 23 hostAliases: skipped
    24: _s("priorityClassName"),
    25: _i32("priority", ptr=True),
    # 26 dnsConfig, 28 readinessGates: skipped
    27: _b("shareProcessNamespace", ptr=True),
    29: _s("runtimeClassName", ptr=True),
    30: _b("enableServiceLinks", ptr=True),
    31: _s("preemptionPolicy", ptr=True),
    32: _map_q("overhead"),
    # 33 topologySpreadConstraints, 34 ephemeralContainers: skipped
    35: _b("setHostnameAsFQDN", ptr=True),
    # 36 os: skipped
    37: _b("hostUsers", ptr=True),
    # 38 schedulingGates, 39 resourceClaims: skipped
    40: _msg("resources", RESOURCE_REQUIREMENTS, ptr=True),
    41: _s("hostnameOverride", ptr=True),
}

POD_TEMPLATE_SPEC: Schema = {  # from memory (wire-checked)
    1: _msg("metadata", OBJECT_META),
    2: _msg("spec", POD_SPEC),
}

# -- ResourceQuota --

SCOPED_RESOURCE_SELECTOR_REQUIREMENT: Schema = {  # from memory
    1: _s("scopeName", ptr=True),  # json:"scopeName"
    2: _s("operator", ptr=True),  # json:"operator"
    3: _rep_s("values"),
}

SCOPE_SELECTOR: Schema = {  # from memory
    1: _rep_msg("matchExpressions", SCOPED_RESOURCE_SELECTOR_REQUIREMENT),
}

RESOURCE_QUOTA_SPEC: Schema = {  # from memory (wire-checked: hard = 1, scopes = 2)
    1: _map_q("hard"),
    2: _rep_s("scopes"),
    3: _msg("scopeSelector", SCOPE_SELECTOR, ptr=True),
}

RESOURCE_QUOTA_STATUS: Schema = {  # from memory
    1: _map_q("hard"),
    2: _map_q("used"),
}

RESOURCE_QUOTA: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _msg("spec", RESOURCE_QUOTA_SPEC),
    3: _msg("status", RESOURCE_QUOTA_STATUS),
}

# ---- k8s.io/api/events/v1/generated.proto -------------------------------

EVENTS_EVENT_SERIES: Schema = {
    1: _i32("count", ptr=True),  # json:"count"
    2: _micro("lastObservedTime"),
}

EVENTS_EVENT: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _micro("eventTime"),
    3: _msg("series", EVENTS_EVENT_SERIES, ptr=True),
    4: _s("reportingController"),
    5: _s("reportingInstance"),
    6: _s("action"),
    7: _s("reason"),
    8: _msg("regarding", OBJECT_REFERENCE),
    9: _msg("related", OBJECT_REFERENCE, ptr=True),
    10: _s("note"),
    11: _s("type"),
    12: _msg("deprecatedSource", EVENT_SOURCE),
    13: _time("deprecatedFirstTimestamp"),
    14: _time("deprecatedLastTimestamp"),
    15: _i32("deprecatedCount"),
}

# ---- k8s.io/api/coordination/v1/generated.proto -------------------------

LEASE_SPEC: Schema = {
    1: _s("holderIdentity", ptr=True),
    2: _i32("leaseDurationSeconds", ptr=True),
    3: _micro("acquireTime", ptr=True),
    4: _micro("renewTime", ptr=True),
    5: _i32("leaseTransitions", ptr=True),
    6: _s("strategy", ptr=True),  # 1.31+ (checked in coordination v1beta1 types.go)
    7: _s("preferredHolder", ptr=True),  # 1.31+ (idem)
}

LEASE: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _msg("spec", LEASE_SPEC),
}

# ---- k8s.io/api/apps/v1/generated.proto ---------------------------------

ROLLING_UPDATE_DEPLOYMENT: Schema = {
    1: _ios("maxUnavailable", ptr=True),
    2: _ios("maxSurge", ptr=True),
}

DEPLOYMENT_STRATEGY: Schema = {
    1: _s("type"),
    2: _msg("rollingUpdate", ROLLING_UPDATE_DEPLOYMENT, ptr=True),
}

DEPLOYMENT_SPEC: Schema = {
    1: _i32("replicas", ptr=True),
    2: _msg("selector", LABEL_SELECTOR, ptr=True),
    3: _msg("template", POD_TEMPLATE_SPEC),
    4: _msg("strategy", DEPLOYMENT_STRATEGY),
    5: _i32("minReadySeconds"),
    6: _i32("revisionHistoryLimit", ptr=True),
    7: _b("paused"),
    9: _i32("progressDeadlineSeconds", ptr=True),
    10: _s("podReplacementPolicy", ptr=True),
}

DEPLOYMENT_CONDITION: Schema = {
    1: _s("type", ptr=True),  # json:"type"
    2: _s("status", ptr=True),  # json:"status"
    4: _s("reason"),
    5: _s("message"),
    6: _time("lastUpdateTime"),
    7: _time("lastTransitionTime"),
}

DEPLOYMENT_STATUS: Schema = {
    1: _i64("observedGeneration"),
    2: _i32("replicas"),
    3: _i32("updatedReplicas"),
    4: _i32("availableReplicas"),
    5: _i32("unavailableReplicas"),
    6: _rep_msg("conditions", DEPLOYMENT_CONDITION),
    7: _i32("readyReplicas"),
    8: _i32("collisionCount", ptr=True),
    9: _i32("terminatingReplicas", ptr=True),
}

DEPLOYMENT: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _msg("spec", DEPLOYMENT_SPEC),
    3: _msg("status", DEPLOYMENT_STATUS),
}

# ---- k8s.io/api/batch/v1/generated.proto --------------------------------
# From memory; the numbers kubectl v1.37 sends were checked against its captured bodies.

JOB_SPEC: Schema = {
    1: _i32("parallelism", ptr=True),
    2: _i32("completions", ptr=True),
    3: _i64("activeDeadlineSeconds", ptr=True),
    4: _msg("selector", LABEL_SELECTOR, ptr=True),
    5: _b("manualSelector", ptr=True),
    6: _msg("template", POD_TEMPLATE_SPEC),
    7: _i32("backoffLimit", ptr=True),
    8: _i32("ttlSecondsAfterFinished", ptr=True),
    9: _s("completionMode", ptr=True),
    10: _b("suspend", ptr=True),
    # 11 podFailurePolicy: skipped
    12: _i32("backoffLimitPerIndex", ptr=True),
    13: _i32("maxFailedIndexes", ptr=True),
    14: _s("podReplacementPolicy", ptr=True),
    15: _s("managedBy", ptr=True),
    # 16 successPolicy: skipped
}

JOB_CONDITION: Schema = {
    1: _s("type", ptr=True),  # json:"type"
    2: _s("status", ptr=True),  # json:"status"
    3: _time("lastProbeTime"),
    4: _time("lastTransitionTime"),
    5: _s("reason"),
    6: _s("message"),
}

JOB_STATUS: Schema = {
    1: _rep_msg("conditions", JOB_CONDITION),
    2: _time("startTime", ptr=True),
    3: _time("completionTime", ptr=True),
    4: _i32("active"),
    5: _i32("succeeded"),
    6: _i32("failed"),
    7: _s("completedIndexes"),
    # 8 uncountedTerminatedPods: skipped
    9: _i32("ready", ptr=True),
    10: _s("failedIndexes", ptr=True),
    11: _i32("terminating", ptr=True),
}

JOB: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _msg("spec", JOB_SPEC),
    3: _msg("status", JOB_STATUS),
}

JOB_TEMPLATE_SPEC: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _msg("spec", JOB_SPEC),
}

CRON_JOB_SPEC: Schema = {
    1: _s("schedule"),
    2: _i64("startingDeadlineSeconds", ptr=True),
    3: _s("concurrencyPolicy"),
    4: _b("suspend", ptr=True),
    5: _msg("jobTemplate", JOB_TEMPLATE_SPEC),
    6: _i32("successfulJobsHistoryLimit", ptr=True),
    7: _i32("failedJobsHistoryLimit", ptr=True),
    8: _s("timeZone", ptr=True),
}

CRON_JOB_STATUS: Schema = {
    1: _rep_msg("active", OBJECT_REFERENCE),
    4: _time("lastScheduleTime", ptr=True),
    5: _time("lastSuccessfulTime", ptr=True),
}

CRON_JOB: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _msg("spec", CRON_JOB_SPEC),
    3: _msg("status", CRON_JOB_STATUS),
}

# ---- k8s.io/api/rbac/v1/generated.proto ---------------------------------
# From memory; the numbers kubectl v1.37 sends were checked against its captured bodies.

POLICY_RULE: Schema = {
    1: _rep_s("verbs"),
    2: _rep_s("apiGroups"),
    3: _rep_s("resources"),
    4: _rep_s("resourceNames"),
    5: _rep_s("nonResourceURLs"),
}

AGGREGATION_RULE: Schema = {
    1: _rep_msg("clusterRoleSelectors", LABEL_SELECTOR),
}

ROLE: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _rep_msg("rules", POLICY_RULE),
}

CLUSTER_ROLE: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _rep_msg("rules", POLICY_RULE),
    3: _msg("aggregationRule", AGGREGATION_RULE, ptr=True),
}

SUBJECT: Schema = {
    1: _s("kind", ptr=True),  # json:"kind"
    2: _s("apiGroup"),
    3: _s("name", ptr=True),  # json:"name"
    4: _s("namespace"),
}

ROLE_REF: Schema = {
    1: _s("apiGroup", ptr=True),  # json:"apiGroup"
    2: _s("kind", ptr=True),  # json:"kind"
    3: _s("name", ptr=True),  # json:"name"
}

ROLE_BINDING: Schema = {  # also ClusterRoleBinding
    1: _msg("metadata", OBJECT_META),
    2: _rep_msg("subjects", SUBJECT),
    3: _msg("roleRef", ROLE_REF),
}

# ---- k8s.io/api/networking/v1/generated.proto ---------------------------
# From memory; the numbers kubectl v1.37 sends were checked against its captured bodies.

SERVICE_BACKEND_PORT: Schema = {
    1: _s("name"),
    2: _i32("number"),
}

INGRESS_SERVICE_BACKEND: Schema = {
    1: _s("name", ptr=True),  # json:"name"
    2: _msg("port", SERVICE_BACKEND_PORT),
}

TYPED_LOCAL_OBJECT_REFERENCE: Schema = {  # core/v1
    1: _s("apiGroup", ptr=True),  # *string
    2: _s("kind", ptr=True),  # json:"kind"
    3: _s("name", ptr=True),  # json:"name"
}

INGRESS_BACKEND: Schema = {
    3: _msg("resource", TYPED_LOCAL_OBJECT_REFERENCE, ptr=True),
    4: _msg("service", INGRESS_SERVICE_BACKEND, ptr=True),
}

HTTP_INGRESS_PATH: Schema = {
    1: _s("path"),
    2: _msg("backend", INGRESS_BACKEND),
    3: _s("pathType", ptr=True),
}

HTTP_INGRESS_RULE_VALUE: Schema = {
    1: _rep_msg("paths", HTTP_INGRESS_PATH),
}

INGRESS_RULE_VALUE: Schema = {
    1: _msg("http", HTTP_INGRESS_RULE_VALUE, ptr=True),
}

INGRESS_RULE: Schema = {
    1: _s("host"),
    2: _inline("ingressRuleValue", INGRESS_RULE_VALUE),
}

INGRESS_TLS: Schema = {
    1: _rep_s("hosts"),
    2: _s("secretName"),
}

INGRESS_SPEC: Schema = {
    1: _msg("defaultBackend", INGRESS_BACKEND, ptr=True),
    2: _rep_msg("tls", INGRESS_TLS),
    3: _rep_msg("rules", INGRESS_RULE),
    4: _s("ingressClassName", ptr=True),
}

INGRESS_PORT_STATUS: Schema = {
    1: _i32("port", ptr=True),  # json:"port"
    2: _s("protocol", ptr=True),  # json:"protocol"
    3: _s("error", ptr=True),
}

INGRESS_LOAD_BALANCER_INGRESS: Schema = {
    1: _s("ip"),
    2: _s("hostname"),
    4: _rep_msg("ports", INGRESS_PORT_STATUS),
}

INGRESS_LOAD_BALANCER_STATUS: Schema = {
    1: _rep_msg("ingress", INGRESS_LOAD_BALANCER_INGRESS),
}

INGRESS_STATUS: Schema = {
    1: _msg("loadBalancer", INGRESS_LOAD_BALANCER_STATUS),
}

INGRESS: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _msg("spec", INGRESS_SPEC),
    3: _msg("status", INGRESS_STATUS),
}

# ---- k8s.io/api/policy/v1/generated.proto -------------------------------
# From memory; the numbers kubectl v1.37 sends were checked against its captured bodies.

POD_DISRUPTION_BUDGET_SPEC: Schema = {
    1: _ios("minAvailable", ptr=True),
    2: _msg("selector", LABEL_SELECTOR, ptr=True),
    3: _ios("maxUnavailable", ptr=True),
    4: _s("unhealthyPodEvictionPolicy", ptr=True),
}

POD_DISRUPTION_BUDGET_STATUS: Schema = {
    1: _i64("observedGeneration"),
    # 2 disruptedPods (map<string, Time>): skipped
    3: _i32("disruptionsAllowed", ptr=True),  # json:"disruptionsAllowed" (no omitempty)
    4: _i32("currentHealthy", ptr=True),  # json:"currentHealthy"
    5: _i32("desiredHealthy", ptr=True),  # json:"desiredHealthy"
    6: _i32("expectedPods", ptr=True),  # json:"expectedPods"
    7: _rep_msg("conditions", CONDITION),
}

POD_DISRUPTION_BUDGET: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _msg("spec", POD_DISRUPTION_BUDGET_SPEC),
    3: _msg("status", POD_DISRUPTION_BUDGET_STATUS),
}

# ---- k8s.io/api/scheduling/v1/generated.proto ---------------------------
# From memory; the numbers kubectl v1.37 sends were checked against its captured bodies.

PRIORITY_CLASS: Schema = {
    1: _msg("metadata", OBJECT_META),
    2: _i32("value", ptr=True),  # json:"value" (no omitempty)
    3: _b("globalDefault"),
    4: _s("description"),
    5: _s("preemptionPolicy", ptr=True),
}

# (apiVersion, kind) -> schema of the object inside runtime.Unknown.raw.
_KINDS: dict[tuple[str, str], Schema] = {
    ("v1", "Secret"): SECRET,
    ("v1", "ConfigMap"): CONFIG_MAP,
    ("v1", "Namespace"): NAMESPACE,
    ("v1", "ServiceAccount"): SERVICE_ACCOUNT,
    ("v1", "Service"): SERVICE,
    ("v1", "Event"): CORE_EVENT,
    ("events.k8s.io/v1", "Event"): EVENTS_EVENT,
    ("coordination.k8s.io/v1", "Lease"): LEASE,
    ("coordination.k8s.io/v1beta1", "Lease"): LEASE,
    ("v1", "ResourceQuota"): RESOURCE_QUOTA,
    ("apps/v1", "Deployment"): DEPLOYMENT,
    ("batch/v1", "Job"): JOB,
    ("batch/v1", "CronJob"): CRON_JOB,
    ("rbac.authorization.k8s.io/v1", "Role"): ROLE,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): CLUSTER_ROLE,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ROLE_BINDING,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ROLE_BINDING,
    ("networking.k8s.io/v1", "Ingress"): INGRESS,
    ("policy/v1", "PodDisruptionBudget"): POD_DISRUPTION_BUDGET,
    ("scheduling.k8s.io/v1", "PriorityClass"): PRIORITY_CLASS,
    # DeleteOptions is registered in every group version; decode() accepts it
    # whatever the apiVersion, these are the usual ones.
    ("v1", "DeleteOptions"): DELETE_OPTIONS,
    ("meta.k8s.io/v1", "DeleteOptions"): DELETE_OPTIONS,
    ("events.k8s.io/v1", "DeleteOptions"): DELETE_OPTIONS,
    ("coordination.k8s.io/v1", "DeleteOptions"): DELETE_OPTIONS,
}


def supported_kinds() -> set[tuple[str, str]]:
    """The (apiVersion, kind) pairs :func:`decode` and :func:`encode` handle."""
    return set(_KINDS)


def _schema_for(api_version: str, kind: str) -> Schema:
    schema = _KINDS.get((api_version, kind))
    if schema is None and kind == "DeleteOptions":
        schema = DELETE_OPTIONS
    if schema is None:
        raise ProtobufError(f"unsupported kind for protobuf: apiVersion={api_version!r} kind={kind!r}")
    return schema


# --------------------------------------------------------------------------
# Wire reader
# --------------------------------------------------------------------------


class _Reader:
    """Sequential reader over a protobuf-encoded byte string."""

    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: bytes | memoryview, pos: int = 0, end: int | None = None) -> None:
        self.buf = memoryview(buf)
        self.pos = pos
        self.end = len(self.buf) if end is None else end

    def at_end(self) -> bool:
        return self.pos >= self.end

    def varint(self) -> int:
        result = 0
        shift = 0
        buf, pos, end = self.buf, self.pos, self.end
        while True:
            if pos >= end:
                raise ProtobufError("truncated varint")
            b = buf[pos]
            pos += 1
            if shift == 63 and b > 1:
                raise ProtobufError("varint overflows 64 bits")
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
            if shift > 63:
                raise ProtobufError("varint too long")
        self.pos = pos
        return result

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > self.end:
            raise ProtobufError("truncated message: field extends past the end of its container")
        chunk = self.buf[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def length_delimited(self) -> memoryview:
        return self.take(self.varint())

    def tag(self) -> tuple[int, int]:
        key = self.varint()
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("invalid field number 0")
        return number, wire

    def skip(self, number: int, wire: int, depth: int = 0) -> None:
        if wire == _VARINT:
            self.varint()
        elif wire == _FIXED64:
            self.take(8)
        elif wire == _LEN:
            self.length_delimited()
        elif wire == _FIXED32:
            self.take(4)
        elif wire == _START_GROUP:
            if depth > _MAX_DEPTH:
                raise ProtobufError("groups nested too deeply")
            while True:
                if self.at_end():
                    raise ProtobufError("truncated group")
                n, w = self.tag()
                if w == _END_GROUP:
                    if n != number:
                        raise ProtobufError("mismatched end group")
                    return
                self.skip(n, w, depth + 1)
        else:
            raise ProtobufError(f"invalid wire type {wire} for field {number}")


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    if value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


def _text(data: memoryview) -> str:
    # Go does not validate UTF-8 in proto strings; its JSON encoder replaces
    # invalid bytes with U+FFFD, which is what "replace" does.
    return bytes(data).decode("utf-8", errors="replace")


# --------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def _datetime_from(seconds: int, nanos: int) -> _dt.datetime:
    try:
        return _EPOCH + _dt.timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError as exc:
        raise ProtobufError(f"timestamp out of range: {seconds}s") from exc


def _format_time(moment: _dt.datetime, micro: bool) -> str:
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if micro:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def _decode_time(data: memoryview, micro: bool) -> str | None:
    """metav1.Time / MicroTime: {int64 seconds = 1; int32 nanos = 2}; empty means zero time."""
    if len(data) == 0:
        return None
    seconds = 0
    nanos = 0
    reader = _Reader(data)
    while not reader.at_end():
        number, wire = reader.tag()
        if number == 1 and wire == _VARINT:
            seconds = _signed(reader.varint(), 64)
        elif number == 2 and wire == _VARINT:
            nanos = _signed(reader.varint(), 32)
        else:
            reader.skip(number, wire)
    if not micro:
        nanos = 0  # metav1.Time keeps seconds only (Go drops the nanos on both sides)
    # Go's time.Unix(seconds, nanos) normalizes nanos outside [0, 1e9).
    extra, nanos = divmod(nanos, 1_000_000_000)
    return _format_time(_datetime_from(seconds + extra, nanos), micro)


def _decode_int_or_string(data: memoryview) -> int | str:
    """intstr.IntOrString: {int64 type = 1; int32 intVal = 2; string strVal = 3}."""
    kind = 0
    int_val = 0
    str_val = ""
    reader = _Reader(data)
    while not reader.at_end():
        number, wire = reader.tag()
        if number == 1 and wire == _VARINT:
            kind = _signed(reader.varint(), 64)
        elif number == 2 and wire == _VARINT:
            int_val = _signed(reader.varint(), 32)
        elif number == 3 and wire == _LEN:
            str_val = _text(reader.length_delimited())
        else:
            reader.skip(number, wire)
    return str_val if kind == 1 else int_val


def _decode_fields_v1(data: memoryview) -> Any:
    """metav1.FieldsV1: {bytes Raw = 1} holding JSON."""
    raw = b""
    reader = _Reader(data)
    while not reader.at_end():
        number, wire = reader.tag()
        if number == 1 and wire == _LEN:
            raw = bytes(reader.length_delimited())
        else:
            reader.skip(number, wire)
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ProtobufError(f"fieldsV1 is not JSON: {exc}") from exc


def _decode_quantity(data: memoryview) -> str:
    """resource.Quantity: {string string = 1}, the canonical text form ("500m", "1Gi")."""
    value = ""
    reader = _Reader(data)
    while not reader.at_end():
        number, wire = reader.tag()
        if number == 1 and wire == _LEN:
            value = _text(reader.length_delimited())
        else:
            reader.skip(number, wire)
    return value


def _decode_map_entry(data: memoryview, value_type: str) -> tuple[str, str]:
    key = ""
    value = ""
    reader = _Reader(data)
    while not reader.at_end():
        number, wire = reader.tag()
        if number == 1 and wire == _LEN:
            key = _text(reader.length_delimited())
        elif number == 2 and wire == _LEN:
            raw = reader.length_delimited()
            if value_type == MAP_BYTES:
                value = base64.b64encode(raw).decode("ascii")
            elif value_type == MAP_QUANTITY:
                value = _decode_quantity(raw)
            else:
                value = _text(raw)
        else:
            reader.skip(number, wire)
    return key, value


def _is_zero(value: Any) -> bool:
    return value in ("", 0, False) or value == [] or value == {}


def _decode_message(data: memoryview, schema: Schema, depth: int = 0) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise ProtobufError("messages nested too deeply")
    out: dict[str, Any] = {}
    inlined: dict[str, Any] = {}
    reader = _Reader(data)
    while not reader.at_end():
        number, wire = reader.tag()
        field = schema.get(number)
        if field is None:
            reader.skip(number, wire)
            continue
        value = _decode_field(reader, field, wire, depth)
        if field.inline:
            inlined.update(value)  # embedded struct: its keys belong to this object
        elif field.repeated:
            out.setdefault(field.name, []).append(value)
        elif field.type in _MAP_TYPES:
            key, item = value
            out.setdefault(field.name, {})[key] = item
        else:
            out[field.name] = value  # last one wins, as in proto
    # Order keys by field number (stable, readable) and apply Go's omitempty.
    result: dict[str, Any] = {}
    for number in sorted(schema):
        field = schema[number]
        if field.name not in out:
            continue
        value = out[field.name]
        if value is None:
            continue  # zero Time / MicroTime
        keep = (field.type == MESSAGE and not field.repeated) or field.ptr or not _is_zero(value)
        if keep:
            result[field.name] = value
    result.update(inlined)
    return result


def _decode_field(reader: _Reader, field: Field, wire: int, depth: int) -> Any:
    kind = field.type
    expected = _SCALAR_WIRE.get(kind, _LEN)
    if wire != expected:
        raise ProtobufError(f"field {field.name!r}: wire type {wire}, expected {expected}")
    if kind == STRING:
        return _text(reader.length_delimited())
    if kind == INT64:
        return _signed(reader.varint(), 64)
    if kind == INT32:
        return _signed(reader.varint(), 32)
    if kind == BOOL:
        return reader.varint() != 0
    data = reader.length_delimited()
    if kind == BYTES:
        return base64.b64encode(data).decode("ascii")
    if kind == MESSAGE:
        assert field.schema is not None
        return _decode_message(data, field.schema, depth + 1)
    if kind == TIME:
        return _decode_time(data, micro=False)
    if kind == MICROTIME:
        return _decode_time(data, micro=True)
    if kind in _MAP_TYPES:
        return _decode_map_entry(data, kind)
    if kind == INT_OR_STRING:
        return _decode_int_or_string(data)
    if kind == QUANTITY:
        return _decode_quantity(data)
    if kind == FIELDS_V1:
        return _decode_fields_v1(data)
    raise AssertionError(f"unknown field type {kind}")


def decode(body: bytes) -> dict[str, Any]:
    """Decode a ``application/vnd.kubernetes.protobuf`` body into its JSON form.

    Returns a dict with ``apiVersion`` and ``kind`` first, then the object's
    fields as Kubernetes JSON would show them. Raises :class:`ProtobufError` on
    a bad magic prefix, malformed or truncated data, or an unsupported kind.
    """
    view = memoryview(body)
    if bytes(view[: len(MAGIC)]) != MAGIC:
        raise ProtobufError("not a Kubernetes protobuf body: missing k8s\\x00 magic prefix")
    envelope = _Reader(view, len(MAGIC))
    api_version = ""
    kind = ""
    raw: memoryview | None = None
    content_encoding = ""
    content_type = ""
    while not envelope.at_end():
        number, wire = envelope.tag()
        if number == 1 and wire == _LEN:
            meta = _decode_message(envelope.length_delimited(), RUNTIME_TYPE_META)
            api_version = meta.get("apiVersion", "")
            kind = meta.get("kind", "")
        elif number == 2 and wire == _LEN:
            raw = envelope.length_delimited()
        elif number == 3 and wire == _LEN:
            content_encoding = _text(envelope.length_delimited())
        elif number == 4 and wire == _LEN:
            content_type = _text(envelope.length_delimited())
        elif number in (1, 2, 3, 4):
            raise ProtobufError(f"runtime.Unknown field {number}: unexpected wire type {wire}")
        else:
            envelope.skip(number, wire)
    if content_encoding:
        raise ProtobufError(f"unsupported contentEncoding {content_encoding!r}")
    if content_type and content_type != PROTOBUF_CONTENT_TYPE:
        raise ProtobufError(f"unsupported contentType {content_type!r}")
    if not kind:
        raise ProtobufError("runtime.Unknown has no typeMeta.kind")
    schema = _schema_for(api_version, kind)
    obj = _decode_message(raw if raw is not None else memoryview(b""), schema)
    return {"apiVersion": api_version, "kind": kind, **obj}


# --------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _len_field(number: int, payload: bytes) -> bytes:
    return _key(number, _LEN) + _varint(len(payload)) + payload


def _varint_field(number: int, value: int) -> bytes:
    return _key(number, _VARINT) + _varint(value)


def _parse_time(value: Any, field: str) -> _dt.datetime:
    if isinstance(value, _dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = _dt.datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError as exc:
            raise ProtobufError(f"field {field!r}: invalid RFC 3339 time {value!r}") from exc
    else:
        raise ProtobufError(f"field {field!r}: expected an RFC 3339 string, got {type(value).__name__}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return moment


def _encode_time(value: Any, field: str, micro: bool) -> bytes:
    moment = _parse_time(value, field)
    delta = moment - _EPOCH
    seconds = delta.days * 86400 + delta.seconds
    nanos = delta.microseconds * 1000 if micro else 0
    # Go's generated Timestamp marshaller writes both fields, always.
    return _varint_field(1, seconds) + _varint_field(2, nanos)


def _encode_int_or_string(value: Any, field: str) -> bytes:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ProtobufError(f"field {field!r}: expected int or string")
    if isinstance(value, int):
        return _varint_field(1, 0) + _varint_field(2, value) + _len_field(3, b"")
    return _varint_field(1, 1) + _varint_field(2, 0) + _len_field(3, value.encode())


def _b64(value: Any, field: str) -> bytes:
    if not isinstance(value, str):
        raise ProtobufError(f"field {field!r}: expected a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtobufError(f"field {field!r}: invalid base64: {exc}") from exc


def _encode_scalar(number: int, field: Field, value: Any, defaults: bool, depth: int) -> bytes:
    kind = field.type
    name = field.name
    if kind == STRING:
        if not isinstance(value, str):
            raise ProtobufError(f"field {name!r}: expected a string, got {type(value).__name__}")
        return _len_field(number, value.encode())
    if kind in (INT32, INT64):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProtobufError(f"field {name!r}: expected an integer, got {type(value).__name__}")
        bits = 32 if kind == INT32 else 64
        if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
            raise ProtobufError(f"field {name!r}: {value} does not fit in int{bits}")
        return _varint_field(number, value)
    if kind == BOOL:
        if not isinstance(value, bool):
            raise ProtobufError(f"field {name!r}: expected a boolean, got {type(value).__name__}")
        return _varint_field(number, int(value))
    if kind == BYTES:
        return _len_field(number, _b64(value, name))
    if kind == MESSAGE:
        if not isinstance(value, dict):
            raise ProtobufError(f"field {name!r}: expected an object, got {type(value).__name__}")
        assert field.schema is not None
        return _len_field(number, _encode_message(value, field.schema, defaults, depth + 1))
    if kind in (TIME, MICROTIME):
        return _len_field(number, _encode_time(value, name, micro=kind == MICROTIME))
    if kind == INT_OR_STRING:
        return _len_field(number, _encode_int_or_string(value, name))
    if kind == FIELDS_V1:
        raw = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
        return _len_field(number, _len_field(1, raw))
    if kind == QUANTITY:
        return _len_field(number, _encode_quantity(value, name))
    raise AssertionError(f"unknown field type {kind}")


def _encode_quantity(value: Any, field: str) -> bytes:
    if not isinstance(value, str):
        raise ProtobufError(f"field {field!r}: expected a quantity string")
    return _len_field(1, value.encode())


def _zero_bytes(number: int, field: Field, depth: int) -> bytes:
    """What Go writes for an unset non-pointer field (only with go_defaults)."""
    kind = field.type
    if field.repeated or field.ptr or kind in (*_MAP_TYPES, FIELDS_V1):
        return b""
    if kind in (STRING, BYTES):
        return _len_field(number, b"")
    if kind in (INT32, INT64, BOOL):
        return _varint_field(number, 0)
    if kind in (TIME, MICROTIME):
        return _len_field(number, b"")  # zero time marshals as an empty message
    if kind == MESSAGE:
        assert field.schema is not None
        return _len_field(number, _encode_message({}, field.schema, True, depth + 1))
    if kind == INT_OR_STRING:
        return _len_field(number, _encode_int_or_string(0, field.name))
    raise AssertionError(f"unknown field type {kind}")


def _encode_message(obj: dict[str, Any], schema: Schema, defaults: bool, depth: int = 0) -> bytes:
    if depth > _MAX_DEPTH:
        raise ProtobufError("objects nested too deeply")
    out = bytearray()
    for number in sorted(schema):
        field = schema[number]
        if field.inline:
            assert field.schema is not None
            names = {f.name for f in field.schema.values()}
            embedded = {k: v for k, v in obj.items() if k in names}
            if embedded or defaults:  # Go always writes an embedded (non-pointer) struct
                out += _len_field(number, _encode_message(embedded, field.schema, defaults, depth + 1))
            continue
        value = obj.get(field.name)
        if value is None:
            if defaults:
                out += _zero_bytes(number, field, depth)
            continue
        if field.type in _MAP_TYPES:
            if not isinstance(value, dict):
                raise ProtobufError(f"field {field.name!r}: expected an object")
            for key in sorted(value):  # Go sorts map keys
                item = value[key]
                if field.type == MAP_BYTES:
                    payload = _b64(item, f"{field.name}.{key}")
                elif field.type == MAP_QUANTITY:
                    payload = _encode_quantity(item, f"{field.name}.{key}")
                elif isinstance(item, str):
                    payload = item.encode()
                else:
                    raise ProtobufError(f"field {field.name}.{key}: expected a string")
                out += _len_field(number, _len_field(1, str(key).encode()) + _len_field(2, payload))
        elif field.repeated:
            if not isinstance(value, list):
                raise ProtobufError(f"field {field.name!r}: expected a list")
            for item in value:
                out += _encode_scalar(number, field, item, defaults, depth)
        else:
            out += _encode_scalar(number, field, value, defaults, depth)
    return bytes(out)


def encode(obj: dict[str, Any], *, go_defaults: bool = False) -> bytes:
    """Encode a JSON-form object of a supported kind as a Kubernetes protobuf body.

    The inverse of :func:`decode`: ``decode(encode(obj)) == obj`` for objects in
    the canonical form :func:`decode` produces. Keys not in the schema are
    ignored. Absent fields are not written unless ``go_defaults`` is true, in
    which case every non-pointer field is written with its zero value, as Go's
    generated marshallers (and so client-go) do.
    """
    if not isinstance(obj, dict):
        raise ProtobufError("expected a JSON object")
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str) or not kind:
        raise ProtobufError("object needs string apiVersion and kind")
    schema = _schema_for(api_version, kind)
    raw = _encode_message(obj, schema, go_defaults)
    type_meta = _len_field(1, api_version.encode()) + _len_field(2, kind.encode())
    # client-go writes empty contentEncoding and contentType (non-pointer strings).
    unknown = _len_field(1, type_meta) + _len_field(2, raw) + _len_field(3, b"") + _len_field(4, b"")
    return MAGIC + unknown
