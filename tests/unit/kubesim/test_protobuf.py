"""Tests for kubesim.protobuf: the Kubernetes protobuf wire format decoder/encoder.

The ``HELM*`` and ``KUBECTL*`` fixtures are real request bodies captured from
the helm v3.17.3 / v4.3.1 and kubectl v1.37.1 binaries (``.bin/``) pointed at a
throwaway stdlib HTTP server that logged every request body.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
from typing import Any

import pytest

from kubesim import protobuf
from kubesim.protobuf import PROTOBUF_CONTENT_TYPE, ProtobufError, decode, encode, supported_kinds

# --------------------------------------------------------------------------
# Captured fixtures (hex)
# --------------------------------------------------------------------------

# helm3 install demo ./chart  ->  POST /api/v1/namespaces/default/secrets
HELM3_RELEASE_SECRET_POST = (
    "6b3873000a0c0a027631120653656372657412ef030a89010a1a73682e68656c6d2e72656c656173652e76312e64656d"
    "6f2e763112001a0022002a003200380042005a170a09637265617465644174120a313739353330343738355a0c0a046e"
    "616d65120464656d6f5a0d0a056f776e6572120468656c6d5a190a06737461747573120f70656e64696e672d696e7374"
    "616c6c5a0c0a0776657273696f6e12013112cc020a0772656c6561736512c0024834734941414141414141432f355350"
    "7a5537444d4243455836576173317331626d6f6b767746337849454c5773556261724678724867545646563564355355"
    "3848506b35686e50376e783751364b4f345247343632455155397644333944476f65687234437a396c514d38374e4736"
    "665658746266566b54373532337034507a726c7a2f65424f3951734d6850343545466859312b6771536a5045724c4650"
    "3848684d5553504a4c7161694a4c4962552b4468673634774b456f36466e686b5469476d742f315842724e4263364642"
    "462f714f6c5149704c652b2f393030386c487648385641646a6a4367484a2b2f7a636b7565365276337548544b474b67"
    "334755683562495a45386e346f30707a345934323155625a76755a66585a565a4b55716d356f37533069694b2b544d41"
    "41502f2f516e50384d4830424141413d1a1268656c6d2e73682f72656c656173652e76311a002200"
)
# HELM_DRIVER=configmap helm3 install democm ./chart  ->  POST /api/v1/namespaces/default/configmaps
HELM3_RELEASE_CONFIGMAP_POST = (
    "6b3873000a0f0a0276311209436f6e6669674d617012e3030a8d010a1c73682e68656c6d2e72656c656173652e76312e"
    "64656d6f636d2e763112001a0022002a003200380042005a170a09637265617465644174120a31373935333034373836"
    "5a0e0a046e616d65120664656d6f636d5a0d0a056f776e6572120468656c6d5a190a06737461747573120f70656e6469"
    "6e672d696e7374616c6c5a0c0a0776657273696f6e12013112d0020a0772656c6561736512c402483473494141414141"
    "4141432f3553507755377a4d42434558365761733173352f7639476c642b414f2b4c4142613373446256594f3161384b"
    "617171766a74715371425862703778374d36334678544b44492f496551775a42716b4d492f774651357161766b57754d"
    "70343577734e5a31322b37627575365a2f66502f2b2b393633643262772f32304f2f33727a41512b754e415a4746646f"
    "6f746f5955705630316a67385653534a704a4e4b6b314a5a444f58794e4d6e6e5748516c485275384b68635969727632"
    "2b384d72676268534a506536444d7252564b3676523875684d474a70336276734c74755a3246414e6233386d43643332"
    "794e6a2b4941767334694263713543796d30315469547a72327268794a6c574e53525a76363450585a315a4b46716c63"
    "45635a614262463953734141502f2f51375276533338424141413d1a002200"
)
# helm4 uninstall  ->  DELETE /api/v1/namespaces/default/secrets/sh.helm.release.v1.demo.v1 (body)
HELM4_DELETE_OPTIONS = "6b3873000a130a027631120d44656c6574654f7074696f6e7312001a002200"
# kubectl v1.37.1 create configmap cm1 --from-literal=greeting=hello --from-file=blob=bin.dat
# (bin.dat holds the bytes 00 ff fe "bin")
KUBECTL_CONFIGMAP = (
    "6b3873000a0f0a0276311209436f6e6669674d617012380a130a03636d3112001a0022002a0032003800420012110a08"
    "6772656574696e67120568656c6c6f1a0e0a04626c6f62120600fffe62696e1a002200"
)
# kubectl v1.37.1 create service nodeport np1 --tcp=443:https --node-port=30443
KUBECTL_SERVICE_NODEPORT = (
    "6b3873000a0d0a02763112075365727669636512710a1f0a036e703112001a0022002a003200380042005a0a0a036170"
    "7012036e7031124a0a240a093434332d6874747073120354435018bb03220b080110001a05687474707328ebed01120a"
    "0a0361707012036e70311a0022084e6f6465506f72743a00420052005a00600068001a020a001a002200"
)
# kubectl v1.37.1 create namespace ns-kubectl  ->  POST /api/v1/namespaces
KUBECTL_NAMESPACE = (
    "6b3873000a0f0a02763112094e616d65737061636512220a1a0a0a6e732d6b75626563746c12001a0022002a00320038"
    "00420012001a020a001a002200"
)
# kubectl v1.37.1 create secret generic s-kubectl --from-literal=a=b
KUBECTL_SECRET = (
    "6b3873000a0c0a027631120653656372657412250a190a09732d6b75626563746c12001a0022002a0032003800420012"
    "060a01611201621a001a002200"
)
# kubectl v1.37.1 create serviceaccount sa-kubectl
KUBECTL_SERVICE_ACCOUNT = (
    "6b3873000a140a027631120e536572766963654163636f756e74121c0a1a0a0a73612d6b75626563746c12001a002200"
    "2a003200380042001a002200"
)

# kubectl v1.37.1 create deployment d --image=nginx:1.27 --replicas=2
KUBECTL_DEPLOYMENT = (
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412a8010a1b0a016412001a0022002a003200380042"
    "005a080a03617070120164127b0802120a0a080a036170701201641a630a1a0a0012001a0022002a003200380042005a"
    "080a03617070120164124512270a056e67696e78120a6e67696e783a312e32372a0042006a0072008001008801009001"
    "00a201001a00320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c080010001800"
    "2000280038001a002200"
)
# kubectl v1.37.1 create deployment d2 --image=nginx:1.27 --port=8080 -- sleep 10
KUBECTL_DEPLOYMENT_PORT_COMMAND = (
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412c5010a1d0a02643212001a0022002a0032003800"
    "42005a090a03617070120264321295010801120b0a090a03617070120264321a7c0a1b0a0012001a0022002a00320038"
    "0042005a090a0361707012026432125d123f0a056e67696e78120a6e67696e783a312e32371a05736c6565701a023130"
    "2a00320b0a00100018903f22002a0042006a007200800100880100900100a201001a00320042004a0052005800600068"
    "008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200"
)
# kubectl v1.37.1 create job j --image=busybox -- echo hi
KUBECTL_JOB = (
    "6b3873000a0f0a0862617463682f763112034a6f621282010a110a016a12001a0022002a00320038004200126332610a"
    "100a0012001a0022002a00320038004200124d122a0a016a120762757379626f781a046563686f1a0268692a0042006a"
    "007200800100880100900100a201001a054e65766572320042004a0052005800600068008201008a01009a0100c20100"
    "1a082000280030003a001a002200"
)
# kubectl v1.37.1 create cronjob cj --image=busybox --schedule='*/5 * * * *' -- date
KUBECTL_CRONJOB = (
    "6b3873000a130a0862617463682f7631120743726f6e4a6f6212a4010a120a02636a12001a0022002a00320038004200"
    "128b010a0b2a2f35202a202a202a202a1a002a7a0a120a02636a12001a0022002a00320038004200126432620a100a00"
    "12001a0022002a00320038004200124e12270a02636a120762757379626f781a04646174652a0042006a007200800100"
    "880100900100a201001a094f6e4661696c757265320042004a0052005800600068008201008a01009a0100c201001a00"
    "1a002200"
)
# kubectl v1.37.1 create role r --verb=get,list --resource=pods,deployments.apps --resource-name=x
KUBECTL_ROLE = (
    "6b3873000a240a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f76311204526f6c65124e0a110a01"
    "7212001a0022002a0032003800420012160a036765740a046c69737412001a04706f647322017812210a036765740a04"
    "6c6973741204617070731a0b6465706c6f796d656e74732201781a002200"
)
# kubectl v1.37.1 create rolebinding rb --role=r --user=alice --serviceaccount=default:sa1 --group=g
KUBECTL_ROLEBINDING = (
    "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b526f6c6542696e64696e"
    "6712b1010a120a02726212001a0022002a00320038004200122a0a04557365721219726261632e617574686f72697a61"
    "74696f6e2e6b38732e696f1a05616c696365220012270a0547726f75701219726261632e617574686f72697a6174696f"
    "6e2e6b38732e696f1a0167220012200a0e536572766963654163636f756e7412001a03736131220764656661756c741a"
    "240a19726261632e617574686f72697a6174696f6e2e6b38732e696f1204526f6c651a01721a002200"
)
# kubectl v1.37.1 create clusterrole cra --aggregation-rule=foo=bar
KUBECTL_CLUSTERROLE_AGGREGATED = (
    "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b436c7573746572526f6c"
    "6512250a130a0363726112001a0022002a003200380042001a0e0a0c0a0a0a03666f6f12036261721a002200"
)
# kubectl v1.37.1 create clusterrolebinding crb --clusterrole=cr --user=bob
KUBECTL_CLUSTERROLEBINDING = (
    "6b3873000a320a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f76311212436c7573746572526f6c"
    "6542696e64696e67126d0a130a0363726212001a0022002a0032003800420012280a04557365721219726261632e6175"
    "74686f72697a6174696f6e2e6b38732e696f1a03626f6222001a2c0a19726261632e617574686f72697a6174696f6e2e"
    "6b38732e696f120b436c7573746572526f6c651a0263721a002200"
)
# kubectl v1.37.1 create ingress ing --class=nginx --rule='foo.com/bar*=svc1:8080,tls=my-cert'
#   --default-backend=defsvc:http --annotation=a=b
KUBECTL_INGRESS = (
    "6b3873000a1f0a146e6574776f726b696e672e6b38732e696f2f76311207496e67726573731284010a1b0a03696e6712"
    "001a0022002a0032003800420062060a016112016212610a1422120a0664656673766312080a0468747470100012120a"
    "07666f6f2e636f6d12076d792d636572741a2e0a07666f6f2e636f6d12230a210a1f0a042f626172120f220d0a047376"
    "633112050a0010903f1a0650726566697822056e67696e781a020a001a002200"
)
# kubectl v1.37.1 create poddisruptionbudget pdb --selector=app=x --min-available=50%
KUBECTL_PDB = (
    "6b3873000a200a09706f6c6963792f76311213506f6444697372757074696f6e427564676574123a0a130a0370646212"
    "001a0022002a0032003800420012170a09080110001a03353025120a0a080a036170701201781a0a0800180020002800"
    "30001a002200"
)
# kubectl v1.37.1 create priorityclass pc --value=1000 --description=hi --preemption-policy=Never
KUBECTL_PRIORITYCLASS = (
    "6b3873000a250a147363686564756c696e672e6b38732e696f2f7631120d5072696f72697479436c61737312240a120a"
    "02706312001a0022002a0032003800420010e8071800220268692a054e657665721a002200"
)
# kubectl v1.37.1 create quota q --hard=cpu=1,memory=1G,pods=2 --scopes=BestEffort
KUBECTL_RESOURCEQUOTA = (
    "6b3873000a130a027631120d5265736f7572636551756f7461124c0a110a017112001a0022002a003200380042001235"
    "0a0a0a0363707512030a01310a0e0a066d656d6f727912040a0231470a0b0a04706f647312030a0132120a4265737445"
    "66666f72741a001a002200"
)


def _body(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text)


def _helm_release_payload(obj: dict[str, Any]) -> dict[str, Any]:
    """Helm stores base64(gzip(JSON release)) as the Secret value; JSON adds one more base64."""
    helm_text = base64.b64decode(obj["data"]["release"])
    release: dict[str, Any] = json.loads(gzip.decompress(base64.b64decode(helm_text)))
    return release


# --------------------------------------------------------------------------
# API surface
# --------------------------------------------------------------------------


def test_content_type_constant() -> None:
    assert PROTOBUF_CONTENT_TYPE == "application/vnd.kubernetes.protobuf"


def test_supported_kinds() -> None:
    kinds = supported_kinds()
    for pair in [
        ("v1", "Secret"),
        ("v1", "ConfigMap"),
        ("v1", "Namespace"),
        ("v1", "ServiceAccount"),
        ("v1", "Service"),
        ("v1", "Event"),
        ("events.k8s.io/v1", "Event"),
        ("coordination.k8s.io/v1", "Lease"),
        ("v1", "DeleteOptions"),
    ]:
        assert pair in kinds
    kinds.clear()  # a copy: callers cannot break the registry
    assert ("v1", "Secret") in supported_kinds()


# --------------------------------------------------------------------------
# Hand-built bytes
# --------------------------------------------------------------------------

MINIMAL_SECRET = bytes(
    [
        *b"k8s\x00",  # magic
        0x0A, 0x0C,  # Unknown.typeMeta (field 1, LEN), 12 bytes
        0x0A, 0x02, *b"v1",  # TypeMeta.apiVersion (field 1) = "v1"
        0x12, 0x06, *b"Secret",  # TypeMeta.kind (field 2) = "Secret"
        0x12, 0x1D,  # Unknown.raw (field 2, LEN), 29 bytes: a v1.Secret
        0x0A, 0x07,  # Secret.metadata (field 1), 7 bytes
        0x0A, 0x05, *b"hello",  # ObjectMeta.name (field 1) = "hello"
        0x12, 0x0A,  # Secret.data (field 2) map entry, 10 bytes
        0x0A, 0x03, *b"key",  # entry key (field 1) = "key"
        0x12, 0x03, *b"val",  # entry value (field 2) = b"val"
        0x1A, 0x06, *b"Opaque",  # Secret.type (field 3) = "Opaque"
        0x1A, 0x00,  # Unknown.contentEncoding (field 3) = ""
        0x22, 0x00,  # Unknown.contentType (field 4) = ""
    ]
)  # fmt: skip

MINIMAL_SECRET_JSON = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "hello"},
    "data": {"key": "dmFs"},  # base64("val")
    "type": "Opaque",
}


def test_decode_hand_built_minimal_secret() -> None:
    assert decode(MINIMAL_SECRET) == MINIMAL_SECRET_JSON


def test_encode_minimal_secret_gives_the_hand_built_bytes() -> None:
    assert encode(MINIMAL_SECRET_JSON) == MINIMAL_SECRET


def test_decode_accepts_bytearray_and_memoryview() -> None:
    assert decode(bytes(bytearray(MINIMAL_SECRET))) == MINIMAL_SECRET_JSON
    assert decode(memoryview(MINIMAL_SECRET)) == MINIMAL_SECRET_JSON  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Real bodies captured from helm and kubectl
# --------------------------------------------------------------------------


def test_real_helm3_release_secret() -> None:
    body = _body(HELM3_RELEASE_SECRET_POST)
    obj = decode(body)
    assert obj["apiVersion"] == "v1"
    assert obj["kind"] == "Secret"
    assert obj["type"] == "helm.sh/release.v1"
    # Go wrote every empty ObjectMeta field (generateName "", generation 0, an
    # empty creationTimestamp, ...): all are dropped, as Go's JSON would.
    assert obj["metadata"] == {
        "name": "sh.helm.release.v1.demo.v1",
        "labels": {
            "createdAt": "1795304785",
            "name": "demo",
            "owner": "helm",
            "status": "pending-install",
            "version": "1",
        },
    }
    assert set(obj) == {"apiVersion", "kind", "metadata", "data", "type"}
    release = _helm_release_payload(obj)
    assert release["name"] == "demo"
    assert release["version"] == 1
    assert release["namespace"] == "default"
    assert release["info"]["status"] == "pending-install"


def test_real_helm3_release_secret_reencodes_byte_for_byte() -> None:
    body = _body(HELM3_RELEASE_SECRET_POST)
    assert encode(decode(body), go_defaults=True) == body


def test_real_helm3_release_configmap() -> None:
    body = _body(HELM3_RELEASE_CONFIGMAP_POST)
    obj = decode(body)
    assert obj["kind"] == "ConfigMap"
    assert obj["metadata"]["name"] == "sh.helm.release.v1.democm.v1"
    assert obj["metadata"]["labels"]["owner"] == "helm"
    assert obj["metadata"]["labels"]["status"] == "pending-install"
    # ConfigMap.data is map<string,string>: helm's base64 text, not base64 again.
    release = json.loads(gzip.decompress(base64.b64decode(obj["data"]["release"])))
    assert release["name"] == "democm"
    assert encode(obj, go_defaults=True) == body


def test_real_delete_options() -> None:
    body = _body(HELM4_DELETE_OPTIONS)
    assert decode(body) == {"apiVersion": "v1", "kind": "DeleteOptions"}
    assert encode(decode(body), go_defaults=True) == body


def test_real_kubectl_bodies() -> None:
    assert decode(_body(KUBECTL_NAMESPACE)) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "ns-kubectl"},
        "spec": {},
        "status": {},
    }
    assert decode(_body(KUBECTL_SECRET)) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s-kubectl"},
        "data": {"a": "Yg=="},
    }
    assert decode(_body(KUBECTL_SERVICE_ACCOUNT)) == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "sa-kubectl"},
    }
    assert decode(_body(KUBECTL_CONFIGMAP)) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm1"},
        "data": {"greeting": "hello"},
        "binaryData": {"blob": base64.b64encode(b"\x00\xff\xfebin").decode()},
    }
    assert decode(_body(KUBECTL_SERVICE_NODEPORT)) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "np1", "labels": {"app": "np1"}},
        "spec": {
            "ports": [
                {
                    "name": "443-https",
                    "protocol": "TCP",
                    "port": 443,
                    "targetPort": "https",
                    "nodePort": 30443,
                }
            ],
            "selector": {"app": "np1"},
            "type": "NodePort",
        },
        "status": {"loadBalancer": {}},
    }


@pytest.mark.parametrize(
    "name",
    [
        "HELM3_RELEASE_SECRET_POST",
        "HELM3_RELEASE_CONFIGMAP_POST",
        "HELM4_DELETE_OPTIONS",
        "KUBECTL_NAMESPACE",
        "KUBECTL_SECRET",
        "KUBECTL_SERVICE_ACCOUNT",
        "KUBECTL_CONFIGMAP",
        "KUBECTL_SERVICE_NODEPORT",
    ],
)
def test_real_bodies_reencode_byte_for_byte(name: str) -> None:
    body = _body(globals()[name])
    assert encode(decode(body), go_defaults=True) == body
    assert decode(encode(decode(body))) == decode(body)


# --------------------------------------------------------------------------
# Round trips for every kind
# --------------------------------------------------------------------------

FULL_METADATA: dict[str, Any] = {
    "name": "thing",
    "generateName": "thing-",
    "namespace": "ns1",
    "selfLink": "/api/v1/namespaces/ns1/things/thing",
    "uid": "0b0d6e4e-4a4e-4b59-9d7a-6f7c1f1c2a3b",
    "resourceVersion": "42",
    "generation": 3,
    "creationTimestamp": "2024-05-06T07:08:09Z",
    "deletionTimestamp": "2024-05-07T00:00:00Z",
    "deletionGracePeriodSeconds": 0,  # pointer: kept although zero
    "labels": {"app": "demo", "tier": "web"},
    "annotations": {"note": "ünïcode ✓", "empty": ""},
    "ownerReferences": [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "rs",
            "uid": "u-1",
            "controller": True,
            "blockOwnerDeletion": False,
        }
    ],
    "finalizers": ["kubernetes", "example.com/x"],
    "managedFields": [
        {
            "manager": "helm",
            "operation": "Update",
            "apiVersion": "v1",
            "time": "2024-05-06T07:08:09Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
            "subresource": "status",
        }
    ],
}

OBJECT_REF = {
    "kind": "Pod",
    "namespace": "ns1",
    "name": "web-0",
    "uid": "u-2",
    "apiVersion": "v1",
    "resourceVersion": "7",
    "fieldPath": "spec.containers{app}",
}

ROUND_TRIP: dict[str, dict[str, Any]] = {
    "secret": {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": FULL_METADATA,
        "data": {"bin": base64.b64encode(bytes(range(256))).decode(), "empty": ""},
        "type": "kubernetes.io/tls",
        "stringData": {"plain": "text"},
        "immutable": False,  # pointer: kept although false
    },
    "configmap": {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "ns1"},
        "data": {"a": "1", "b": "multi\nline"},
        "binaryData": {"raw": "AP/+"},
        "immutable": True,
    },
    "namespace": {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {
            "phase": "Terminating",
            "conditions": [
                {
                    "type": "NamespaceDeletionContentFailure",
                    "status": "False",
                    "lastTransitionTime": "2024-01-02T03:04:05Z",
                    "reason": "ContentDeleted",
                    "message": "All content successfully deleted",
                }
            ],
        },
    },
    "serviceaccount": {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": "ns1"},
        "secrets": [{"name": "tok"}],
        "imagePullSecrets": [{"name": "regcred"}],
        "automountServiceAccountToken": False,
    },
    "core-event": {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web-0.17c", "namespace": "ns1"},
        "involvedObject": OBJECT_REF,
        "reason": "BackOff",
        "message": "Back-off restarting failed container",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": "2024-05-06T07:08:09Z",
        "lastTimestamp": "2024-05-06T07:18:09Z",
        "count": 5,
        "type": "Warning",
        "eventTime": "2024-05-06T07:08:09.123456Z",
        "series": {"count": 4, "lastObservedTime": "2024-05-06T07:18:09.000001Z"},
        "action": "Restarting",
        "related": {"kind": "Node", "name": "node-1"},
        "reportingComponent": "kubelet",
        "reportingInstance": "node-1",
    },
    "events-event": {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "demo.17c", "namespace": "ns1"},
        "eventTime": "2024-05-06T07:08:09.000000Z",
        "series": {"count": 2, "lastObservedTime": "2024-05-06T07:08:10.500000Z"},
        "reportingController": "helm.sh/controller",
        "reportingInstance": "controller-0",
        "action": "Reconcile",
        "reason": "Installed",
        "regarding": OBJECT_REF,
        "related": {"kind": "Secret", "name": "sh.helm.release.v1.demo.v1"},
        "note": "installed",
        "type": "Normal",
        "deprecatedSource": {"component": "c"},
        "deprecatedFirstTimestamp": "2024-05-06T07:08:09Z",
        "deprecatedLastTimestamp": "2024-05-06T07:08:09Z",
        "deprecatedCount": 1,
    },
    "lease": {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "leader", "namespace": "kube-system"},
        "spec": {
            "holderIdentity": "pod-a_1234",
            "leaseDurationSeconds": 15,
            "acquireTime": "2024-05-06T07:08:09.123456Z",
            "renewTime": "2024-05-06T07:08:19.654321Z",
            "leaseTransitions": 0,  # pointer: kept although zero
            "strategy": "OldestEmulationVersion",
            "preferredHolder": "pod-b",
        },
    },
    "service": {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "ns1"},
        "spec": {
            "ports": [
                {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080, "appProtocol": "http"},
                {"name": "https", "protocol": "TCP", "port": 443, "targetPort": "https", "nodePort": 30443},
            ],
            "selector": {"app": "web"},
            "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"],
            "type": "LoadBalancer",
            "externalIPs": ["192.0.2.1"],
            "sessionAffinity": "ClientIP",
            "loadBalancerIP": "192.0.2.2",
            "loadBalancerSourceRanges": ["10.0.0.0/8"],
            "externalTrafficPolicy": "Local",
            "healthCheckNodePort": 32000,
            "publishNotReadyAddresses": True,
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
            "ipFamilyPolicy": "SingleStack",
            "ipFamilies": ["IPv4"],
            "allocateLoadBalancerNodePorts": False,
            "loadBalancerClass": "example.com/lb",
            "internalTrafficPolicy": "Cluster",
            "trafficDistribution": "PreferClose",
        },
        "status": {
            "loadBalancer": {
                "ingress": [
                    {"ip": "192.0.2.3", "ipMode": "VIP", "ports": [{"port": 80, "protocol": "TCP"}]},
                    {"hostname": "lb.example.com"},
                ]
            },
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "observedGeneration": 2,
                    "lastTransitionTime": "2024-05-06T07:08:09Z",
                    "reason": "LBReady",
                    "message": "",
                }
            ],
        },
    },
    "external-name-service": {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "ext"},
        "spec": {"type": "ExternalName", "externalName": "db.example.com"},
        "status": {"loadBalancer": {}},
    },
    "delete-options": {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "gracePeriodSeconds": 0,
        "preconditions": {"uid": "u-1", "resourceVersion": "9"},
        "orphanDependents": False,
        "propagationPolicy": "Foreground",
        "dryRun": ["All"],
    },
    "lease-v1beta1": {
        "apiVersion": "coordination.k8s.io/v1beta1",
        "kind": "Lease",
        "metadata": {"name": "old"},
        "spec": {"holderIdentity": "x"},
    },
    "deployment": {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns1", "labels": {"app": "web"}},
        "spec": {
            "replicas": 0,  # pointer: kept although zero
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}],
            },
            "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": {"a": "b"}},
                "spec": {
                    "initContainers": [
                        {"name": "init", "image": "busybox", "args": ["true"], "resources": {}}
                    ],
                    "containers": [
                        {
                            "name": "app",
                            "image": "nginx:1.27",
                            "command": ["nginx"],
                            "args": ["-g", "daemon off;"],
                            "workingDir": "/srv",
                            "ports": [
                                {"name": "http", "containerPort": 80, "protocol": "TCP"},
                                {"containerPort": 0, "hostPort": 8443, "hostIP": "127.0.0.1"},
                            ],
                            "env": [
                                {"name": "A", "value": "1"},
                                {"name": "EMPTY"},
                                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                {
                                    "name": "CPU",
                                    "valueFrom": {
                                        "resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}
                                    },
                                },
                                {
                                    "name": "CM",
                                    "valueFrom": {
                                        "configMapKeyRef": {"name": "cm", "key": "k", "optional": True}
                                    },
                                },
                                {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                            ],
                            "envFrom": [
                                {"prefix": "X_", "configMapRef": {"name": "cm"}},
                                {"secretRef": {"name": "s", "optional": False}},
                            ],
                            "resources": {
                                "limits": {"cpu": "500m", "memory": "128Mi"},
                                "requests": {"cpu": "250m"},
                                "claims": [{"name": "gpu", "request": "r"}],
                            },
                            "volumeMounts": [
                                {"name": "data", "mountPath": "/data", "readOnly": True, "subPath": "x"},
                                {"name": "cfg", "mountPath": "/cfg", "mountPropagation": "None"},
                            ],
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File",
                            "imagePullPolicy": "IfNotPresent",
                            "securityContext": {
                                "privileged": False,
                                "runAsUser": 1000,
                                "runAsNonRoot": True,
                                "readOnlyRootFilesystem": True,
                                "allowPrivilegeEscalation": False,
                                "runAsGroup": 3000,
                            },
                            "stdin": True,
                            "tty": True,
                        }
                    ],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "activeDeadlineSeconds": 600,
                    "dnsPolicy": "ClusterFirst",
                    "nodeSelector": {"disk": "ssd"},
                    "serviceAccountName": "sa",
                    "serviceAccount": "sa",
                    "nodeName": "node-1",
                    "hostNetwork": True,
                    "securityContext": {"runAsUser": 1000, "runAsNonRoot": True, "fsGroup": 2000},
                    "imagePullSecrets": [{"name": "regcred"}],
                    "hostname": "h",
                    "subdomain": "sub",
                    "schedulerName": "default-scheduler",
                    "automountServiceAccountToken": False,
                    "tolerations": [
                        {"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"},
                        {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 0},
                    ],
                    "priorityClassName": "high",
                    "priority": 1000,
                    "enableServiceLinks": False,
                    "overhead": {"cpu": "10m"},
                },
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
            "minReadySeconds": 5,
            "revisionHistoryLimit": 10,
            "paused": True,
            "progressDeadlineSeconds": 600,
        },
        "status": {
            "observedGeneration": 2,
            "replicas": 3,
            "updatedReplicas": 3,
            "availableReplicas": 2,
            "unavailableReplicas": 1,
            "readyReplicas": 2,
            "collisionCount": 0,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True",
                    "lastUpdateTime": "2024-05-06T07:08:09Z",
                    "lastTransitionTime": "2024-05-06T07:08:10Z",
                    "reason": "MinimumReplicasAvailable",
                    "message": "ok",
                }
            ],
        },
    },
    "job": {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {
            "parallelism": 2,
            "completions": 4,
            "activeDeadlineSeconds": 100,
            "selector": {"matchLabels": {"job": "j"}},
            "manualSelector": True,
            "template": {
                "metadata": {},
                "spec": {
                    "containers": [{"name": "c", "image": "busybox", "resources": {}}],
                    "restartPolicy": "Never",
                },
            },
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 60,
            "completionMode": "Indexed",
            "suspend": False,
            "backoffLimitPerIndex": 1,
            "maxFailedIndexes": 2,
            "podReplacementPolicy": "Failed",
            "managedBy": "example.com/ctl",
        },
        "status": {
            "conditions": [
                {
                    "type": "Complete",
                    "status": "True",
                    "lastProbeTime": "2024-05-06T07:08:09Z",
                    "lastTransitionTime": "2024-05-06T07:08:09Z",
                }
            ],
            "startTime": "2024-05-06T07:00:00Z",
            "completionTime": "2024-05-06T07:08:09Z",
            "active": 1,
            "succeeded": 4,
            "failed": 2,
            "completedIndexes": "0-3",
            "ready": 0,
            "failedIndexes": "",
            "terminating": 0,
        },
    },
    "cronjob": {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "cj"},
        "spec": {
            "schedule": "@hourly",
            "startingDeadlineSeconds": 30,
            "concurrencyPolicy": "Forbid",
            "suspend": True,
            "jobTemplate": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {
                    "template": {
                        "metadata": {},
                        "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {}}]},
                    }
                },
            },
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 0,
            "timeZone": "Etc/UTC",
        },
        "status": {
            "active": [{"kind": "Job", "namespace": "ns1", "name": "cj-1", "apiVersion": "batch/v1"}],
            "lastScheduleTime": "2024-05-06T07:00:00Z",
            "lastSuccessfulTime": "2024-05-06T07:00:05Z",
        },
    },
    "role": {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "r", "namespace": "ns1"},
        "rules": [
            {"verbs": ["get"], "apiGroups": ["", "apps"], "resources": ["pods"], "resourceNames": ["p"]}
        ],
    },
    "clusterrole": {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "cr"},
        "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/version"]}],
        "aggregationRule": {
            "clusterRoleSelectors": [
                {"matchExpressions": [{"key": "agg", "operator": "Exists"}]},
            ]
        },
    },
    "rolebinding": {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "rb", "namespace": "ns1"},
        "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "ns1"}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
    },
    "clusterrolebinding": {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "crb"},
        "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
    },
    "ingress": {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "ing"},
        "spec": {
            "defaultBackend": {"resource": {"apiGroup": "example.com", "kind": "Bucket", "name": "b"}},
            "tls": [{"hosts": ["a.example.com"], "secretName": "tls"}],
            "rules": [
                {
                    "host": "a.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Exact",
                                "backend": {"service": {"name": "svc", "port": {"name": "http"}}},
                            },
                            {"backend": {"service": {"name": "svc", "port": {}}}},
                        ]
                    },
                },
                {"host": "b.example.com"},
            ],
            "ingressClassName": "",
        },
        "status": {
            "loadBalancer": {
                "ingress": [{"ip": "10.0.0.1", "ports": [{"port": 80, "protocol": "TCP", "error": "x"}]}]
            }
        },
    },
    "pdb": {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "pdb"},
        "spec": {
            "maxUnavailable": 0,
            "selector": {"matchLabels": {"app": "x"}},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
        "status": {
            "observedGeneration": 1,
            "disruptionsAllowed": 1,
            "currentHealthy": 3,
            "desiredHealthy": 2,
            "expectedPods": 3,
            "conditions": [
                {
                    "type": "DisruptionAllowed",
                    "status": "True",
                    "lastTransitionTime": "2024-05-06T07:08:09Z",
                    "reason": "SufficientPods",
                    "message": "",
                }
            ],
        },
    },
    "priorityclass": {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "pc"},
        "value": 0,
        "globalDefault": True,
        "description": "d",
        "preemptionPolicy": "PreemptLowerPriority",
    },
    "resourcequota": {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "q"},
        "spec": {
            "hard": {"cpu": "2", "requests.memory": "1Gi"},
            "scopeSelector": {
                "matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]
            },
        },
        "status": {"hard": {"cpu": "2"}, "used": {"cpu": "500m"}},
    },
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIP))
def test_round_trip(name: str) -> None:
    obj = ROUND_TRIP[name]
    body = encode(obj)
    assert body.startswith(b"k8s\x00")
    assert decode(body) == obj


@pytest.mark.parametrize("name", sorted(ROUND_TRIP))
def test_round_trip_with_go_defaults(name: str) -> None:
    """Go writes every non-pointer field; decoding must drop the zero ones again."""
    obj = ROUND_TRIP[name]
    body = encode(obj, go_defaults=True)
    assert len(body) >= len(encode(obj))
    assert decode(body) == obj


def test_round_trip_covers_every_supported_schema() -> None:
    covered = {(o["apiVersion"], o["kind"]) for o in ROUND_TRIP.values()}
    schemas = {id(protobuf._KINDS[pair]) for pair in supported_kinds()}
    assert schemas == {id(protobuf._KINDS[pair]) for pair in covered}


def test_encode_does_not_mutate_input() -> None:
    obj = copy.deepcopy(ROUND_TRIP["secret"])
    encode(obj, go_defaults=True)
    assert obj == ROUND_TRIP["secret"]


def test_decoded_keys_follow_field_order() -> None:
    obj = decode(encode(ROUND_TRIP["secret"]))
    assert list(obj) == ["apiVersion", "kind", "metadata", "data", "type", "stringData", "immutable"]


def test_go_defaults_encoding_matches_go_layout() -> None:
    # ObjectMeta as client-go writes it for {name: "x"}: every non-pointer field present.
    body = encode({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x"}}, go_defaults=True)
    assert body.hex() == (
        "6b387300"  # magic
        "0a140a027631120e536572766963654163636f756e74"  # typeMeta v1 / ServiceAccount
        "1213"  # raw, 19 bytes
        "0a11"  # metadata, 17 bytes
        "0a0178"  # name "x"
        "1200"  # generateName ""
        "1a00"  # namespace ""
        "2200"  # selfLink ""
        "2a00"  # uid ""
        "3200"  # resourceVersion ""
        "3800"  # generation 0
        "4200"  # creationTimestamp: empty Time message (zero time)
        "1a00"  # contentEncoding ""
        "2200"  # contentType ""
    )


# --------------------------------------------------------------------------
# Zero values, pointers and times
# --------------------------------------------------------------------------


def _wrap(api_version: str, kind: str, raw: bytes) -> bytes:
    """Build an envelope around hand-written raw bytes."""
    tm = (
        b"\x0a"
        + bytes([len(api_version)])
        + api_version.encode()
        + b"\x12"
        + bytes([len(kind)])
        + kind.encode()
    )
    return b"k8s\x00" + b"\x0a" + bytes([len(tm)]) + tm + b"\x12" + protobuf._varint(len(raw)) + raw


def test_empty_creation_timestamp_is_omitted() -> None:
    # metadata { name: "a", creationTimestamp: {} }
    raw = b"\x0a\x05" + b"\x0a\x01a" + b"\x42\x00"
    assert decode(_wrap("v1", "Secret", raw)) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "a"},
    }


def test_epoch_time_is_not_zero_time() -> None:
    # creationTimestamp { seconds: 0, nanos: 0 } is 1970, not Go's zero time.
    raw = b"\x0a\x09" + b"\x0a\x01a" + b"\x42\x04\x08\x00\x10\x00"
    assert decode(_wrap("v1", "Secret", raw))["metadata"]["creationTimestamp"] == "1970-01-01T00:00:00Z"


def test_time_drops_nanos_and_microtime_keeps_micros() -> None:
    ts = b"\x08" + protobuf._varint(1_700_000_000) + b"\x10" + protobuf._varint(987_654_321)
    meta = b"\x42" + bytes([len(ts)]) + ts
    raw = b"\x0a" + bytes([len(meta)]) + meta
    assert decode(_wrap("v1", "Secret", raw))["metadata"]["creationTimestamp"] == "2023-11-14T22:13:20Z"
    spec = b"\x1a" + bytes([len(ts)]) + ts  # LeaseSpec.acquireTime (MicroTime)
    raw = b"\x12" + bytes([len(spec)]) + spec
    lease = decode(_wrap("coordination.k8s.io/v1", "Lease", raw))
    assert lease["spec"] == {"acquireTime": "2023-11-14T22:13:20.987654Z"}


def test_encode_time_accepts_offsets_and_fractions() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "a", "creationTimestamp": "2024-05-06T09:08:09.75+02:00"},
    }
    assert decode(encode(obj))["metadata"]["creationTimestamp"] == "2024-05-06T07:08:09Z"


def test_times_before_epoch() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "a", "creationTimestamp": "1969-12-31T23:59:59Z"},
    }
    assert decode(encode(obj)) == obj
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "l"},
        "spec": {"renewTime": "0001-01-01T00:00:00.000001Z"},
    }
    assert decode(encode(lease)) == lease


def test_pointer_fields_keep_zero_values_and_value_fields_drop_them() -> None:
    # Secret { metadata {name:"a"} type:"" immutable:false }
    raw = b"\x0a\x03\x0a\x01a" + b"\x1a\x00" + b"\x28\x00"
    assert decode(_wrap("v1", "Secret", raw)) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "a"},
        "immutable": False,
    }


def test_negative_integers() -> None:
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "e", "generation": -(2**63), "deletionGracePeriodSeconds": -1},
        "involvedObject": {},
        "count": -1,
    }
    body = encode(event)
    assert b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01" in body  # -1 as a 10-byte varint, as Go writes it
    assert decode(body) == event


def test_int32_field_wraps_like_go() -> None:
    # Event.count (int32) written as a 64-bit varint 2**32 + 5 -> Go keeps the low 32 bits.
    raw = b"\x40" + protobuf._varint(2**32 + 5)
    assert decode(_wrap("v1", "Event", raw))["count"] == 5


def test_int_or_string_zero_is_omitted() -> None:
    # ServicePort { port: 80, targetPort: IntOrString{type:0,intVal:0,strVal:""} }
    ios = b"\x08\x00\x10\x00\x1a\x00"
    port = b"\x18\x50" + b"\x22" + bytes([len(ios)]) + ios
    spec = b"\x0a" + bytes([len(port)]) + port
    raw = b"\x12" + bytes([len(spec)]) + spec
    assert decode(_wrap("v1", "Service", raw))["spec"] == {"ports": [{"port": 80}]}


def test_map_entry_missing_value_or_key() -> None:
    # labels entries {key:"k"} and {value:"v"}: Go yields "k": "" and "": "v".
    meta = b"\x5a\x03\x0a\x01k" + b"\x5a\x03\x12\x01v"
    raw = b"\x0a" + bytes([len(meta)]) + meta
    assert decode(_wrap("v1", "Secret", raw))["metadata"]["labels"] == {"k": "", "": "v"}


def test_repeated_map_keys_last_wins() -> None:
    meta = b"\x5a\x06\x0a\x01k\x12\x011" + b"\x5a\x06\x0a\x01k\x12\x012"
    raw = b"\x0a" + bytes([len(meta)]) + meta
    assert decode(_wrap("v1", "Secret", raw))["metadata"]["labels"] == {"k": "2"}


def test_invalid_utf8_is_replaced() -> None:
    raw = b"\x0a\x04\x0a\x02\xffa"
    assert decode(_wrap("v1", "Secret", raw))["metadata"]["name"] == "\ufffda"


def test_map_bytes_are_base64() -> None:
    data = bytes(range(256)) * 3
    entry = b"\x0a\x01k\x12" + protobuf._varint(len(data)) + data
    raw = b"\x12" + protobuf._varint(len(entry)) + entry
    assert decode(_wrap("v1", "Secret", raw))["data"] == {"k": base64.b64encode(data).decode()}


def test_delete_options_any_api_version() -> None:
    body = encode({"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"})
    body = body.replace(b"\x0a\x02v1", b"\x0a\x07apps/v1").replace(b"\x0a\x13", b"\x0a\x18", 1)
    assert decode(body) == {
        "apiVersion": "apps/v1",
        "kind": "DeleteOptions",
        "propagationPolicy": "Background",
    }


def test_missing_raw_gives_an_empty_object() -> None:
    body = b"k8s\x00\x0a\x0c\x0a\x02v1\x12\x06Secret"
    assert decode(body) == {"apiVersion": "v1", "kind": "Secret"}


# --------------------------------------------------------------------------
# Unknown fields
# --------------------------------------------------------------------------

UNKNOWN_FIELDS = b"".join(
    [
        b"\xf8\x07\x96\x01",  # field 127, varint 150
        b"\x79" + b"\x01" * 8,  # field 15, fixed64
        b"\x7a\x03abc",  # field 15, length-delimited
        b"\x7d" + b"\x02" * 4,  # field 15, fixed32
        b"\x7b\x08\x01\x0b\x08\x02\x0c\x7c",  # field 15, group holding a varint and a group (field 1)
    ]
)


def test_unknown_fields_are_skipped_everywhere() -> None:
    meta = b"\x0a\x05hello" + UNKNOWN_FIELDS + b"\x5a\x06\x0a\x01k\x12\x01v"
    entry = b"\x0a\x03key" + UNKNOWN_FIELDS + b"\x12\x03val"
    raw = (
        UNKNOWN_FIELDS
        + b"\x0a" + bytes([len(meta)]) + meta
        + b"\x12" + bytes([len(entry)]) + entry
        + b"\x1a\x06Opaque"
        + b"\x32\x02\x08\x01"  # Secret field 6 (not in the schema)
    )  # fmt: skip
    tm = b"\x0a\x02v1" + UNKNOWN_FIELDS + b"\x12\x06Secret"
    body = (
        b"k8s\x00"
        + UNKNOWN_FIELDS
        + b"\x0a"
        + bytes([len(tm)])
        + tm
        + b"\x12"
        + protobuf._varint(len(raw))
        + raw
    )
    body += b"\x2a\x03xyz"  # Unknown field 5
    assert decode(body) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "hello", "labels": {"k": "v"}},
        "data": {"key": "dmFs"},
        "type": "Opaque",
    }


def test_unknown_fields_in_real_helm_body() -> None:
    body = _body(HELM3_RELEASE_SECRET_POST) + b"\xa2\x06\x02hi"  # field 100 appended to Unknown
    assert decode(body) == decode(_body(HELM3_RELEASE_SECRET_POST))


def test_removed_fields_are_skipped() -> None:
    # ObjectMeta.clusterName (15, removed in 1.25) and ServiceSpec.topologyKeys (16, removed in 1.22).
    meta = b"\x0a\x01s" + b"\x7a\x02c1"
    spec = b"\x82\x01\x01*" + b"\x22\x09ClusterIP"
    raw = b"\x0a" + bytes([len(meta)]) + meta + b"\x12" + bytes([len(spec)]) + spec
    assert decode(_wrap("v1", "Service", raw)) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"type": "ClusterIP"},
    }


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"k8s",
        b"k8s\x01" + MINIMAL_SECRET[4:],
        b'{"apiVersion":"v1","kind":"Secret"}',
        MINIMAL_SECRET[4:],
    ],
)
def test_bad_magic(body: bytes) -> None:
    with pytest.raises(ProtobufError, match="magic"):
        decode(body)


def test_truncated_input_raises() -> None:
    # Prefixes ending exactly between two envelope fields are valid protobuf
    # (the message just lacks the later fields); every other cut is an error.
    boundaries = {18, 18 + 2 + 29, 18 + 2 + 29 + 2}
    for cut in range(len(MINIMAL_SECRET)):
        if cut in boundaries:
            decode(MINIMAL_SECRET[:cut])
            continue
        with pytest.raises(ProtobufError):
            decode(MINIMAL_SECRET[:cut])


def test_truncated_real_body_raises() -> None:
    body = _body(HELM3_RELEASE_SECRET_POST)
    for cut in (5, 20, 21, 100, 300, len(body) - 5):
        with pytest.raises(ProtobufError):
            decode(body[:cut])


def test_inner_length_past_container_raises() -> None:
    # metadata claims 9 bytes but raw holds only 7 after its header.
    raw = b"\x0a\x09\x0a\x05hello"
    with pytest.raises(ProtobufError, match="past the end"):
        decode(_wrap("v1", "Secret", raw))


def test_unsupported_kind() -> None:
    with pytest.raises(ProtobufError, match="unsupported kind"):
        decode(_wrap("apps/v1", "StatefulSet", b""))
    with pytest.raises(ProtobufError, match="unsupported kind"):
        encode({"apiVersion": "apps/v1", "kind": "StatefulSet"})


def test_missing_kind() -> None:
    with pytest.raises(ProtobufError, match="kind"):
        decode(b"k8s\x00\x12\x00")


def test_content_encoding_is_rejected() -> None:
    with pytest.raises(ProtobufError, match="contentEncoding"):
        decode(MINIMAL_SECRET[:-4] + b"\x1a\x04gzip\x22\x00")


def test_wrong_wire_type_for_known_field() -> None:
    raw = b"\x0a\x02\x08\x01"  # metadata.name (string) sent as a varint
    with pytest.raises(ProtobufError, match="wire type"):
        decode(_wrap("v1", "Secret", raw))


@pytest.mark.parametrize(
    "raw",
    [
        b"\x38" + b"\xff" * 10 + b"\x01",  # varint longer than 10 bytes
        b"\x38" + b"\xff" * 9 + b"\x02",  # 10-byte varint overflowing 64 bits
        b"\x38\xff",  # truncated varint
        b"\x00\x00",  # field number 0
        b"\x0e",  # wire type 6
        b"\x7b\x08\x01",  # unterminated group
        b"\x7b\x84\x01",  # group closed by the wrong field number
    ],
)
def test_malformed_wire_data(raw: bytes) -> None:
    meta = raw
    with pytest.raises(ProtobufError):
        decode(_wrap("v1", "Secret", b"\x0a" + bytes([len(meta)]) + meta))


def test_out_of_range_nanos_are_normalized_like_go() -> None:
    ts = b"\x08\x01\x10" + protobuf._varint(1_500_000_000)  # 1 s + 1.5e9 ns
    spec = b"\x22" + bytes([len(ts)]) + ts  # LeaseSpec.renewTime (MicroTime)
    raw = b"\x12" + bytes([len(spec)]) + spec
    lease = decode(_wrap("coordination.k8s.io/v1", "Lease", raw))
    assert lease["spec"] == {"renewTime": "1970-01-01T00:00:02.500000Z"}


def test_invalid_fields_v1_json() -> None:
    fields = b"\x0a\x03{x}"
    entry = b"\x3a" + bytes([len(fields)]) + fields
    meta = b"\x8a\x01" + bytes([len(entry)]) + entry
    raw = b"\x0a" + bytes([len(meta)]) + meta
    with pytest.raises(ProtobufError, match="fieldsV1"):
        decode(_wrap("v1", "Secret", raw))


def test_deep_nesting_is_bounded() -> None:
    raw = b"\x7b" * 100 + b"\x7c" * 100  # 100 nested groups
    with pytest.raises(ProtobufError, match="deeply"):
        decode(_wrap("v1", "Secret", raw))


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ({"apiVersion": "v1", "kind": "Secret", "data": {"k": "not base64!"}}, "base64"),
        ({"apiVersion": "v1", "kind": "Secret", "data": ["x"]}, "object"),
        ({"apiVersion": "v1", "kind": "Secret", "type": 3}, "string"),
        ({"apiVersion": "v1", "kind": "Secret", "immutable": "yes"}, "boolean"),
        ({"apiVersion": "v1", "kind": "Secret", "metadata": {"generation": "1"}}, "integer"),
        ({"apiVersion": "v1", "kind": "Secret", "metadata": {"generation": True}}, "integer"),
        ({"apiVersion": "v1", "kind": "Event", "count": 2**31}, "int32"),
        ({"apiVersion": "v1", "kind": "Secret", "metadata": {"creationTimestamp": "yesterday"}}, "RFC 3339"),
        ({"apiVersion": "v1", "kind": "Secret", "metadata": {"creationTimestamp": 5}}, "RFC 3339"),
        ({"apiVersion": "v1", "kind": "Secret", "metadata": {"finalizers": "x"}}, "list"),
        ({"apiVersion": "v1", "kind": "Secret", "metadata": "x"}, "object"),
        ({"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"targetPort": 1.5}]}}, "int or string"),
        ({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": 1}}, "string"),
        ({"kind": "Secret"}, "apiVersion"),
    ],
)
def test_encode_rejects_bad_values(obj: dict[str, Any], match: str) -> None:
    with pytest.raises(ProtobufError, match=match):
        encode(obj)


def test_encode_ignores_unknown_keys() -> None:
    obj = dict(MINIMAL_SECRET_JSON, status={"x": 1}, extra=True)
    assert encode(obj) == MINIMAL_SECRET


# --------------------------------------------------------------------------
# Workload, RBAC, networking, policy and scheduling kinds (kubectl create ...)
# --------------------------------------------------------------------------

KUBECTL_WORKLOAD_BODIES = [
    "KUBECTL_DEPLOYMENT",
    "KUBECTL_DEPLOYMENT_PORT_COMMAND",
    "KUBECTL_JOB",
    "KUBECTL_CRONJOB",
    "KUBECTL_ROLE",
    "KUBECTL_ROLEBINDING",
    "KUBECTL_CLUSTERROLE_AGGREGATED",
    "KUBECTL_CLUSTERROLEBINDING",
    "KUBECTL_INGRESS",
    "KUBECTL_PDB",
    "KUBECTL_PRIORITYCLASS",
    "KUBECTL_RESOURCEQUOTA",
]


@pytest.mark.parametrize("name", KUBECTL_WORKLOAD_BODIES)
def test_real_kubectl_create_bodies_reencode_byte_for_byte(name: str) -> None:
    body = _body(globals()[name])
    assert encode(decode(body), go_defaults=True) == body
    assert decode(encode(decode(body))) == decode(body)


def test_real_kubectl_deployment() -> None:
    assert decode(_body(KUBECTL_DEPLOYMENT)) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "labels": {"app": "d"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "resources": {}}]},
            },
            "strategy": {},
        },
        "status": {},
    }
    container = decode(_body(KUBECTL_DEPLOYMENT_PORT_COMMAND))["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["sleep", "10"]
    assert container["ports"] == [{"containerPort": 8080}]


def test_real_kubectl_job_and_cronjob() -> None:
    assert decode(_body(KUBECTL_JOB)) == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "metadata": {},
                "spec": {
                    "containers": [
                        {"name": "j", "image": "busybox", "command": ["echo", "hi"], "resources": {}}
                    ],
                    "restartPolicy": "Never",
                },
            }
        },
        "status": {},
    }
    cronjob = decode(_body(KUBECTL_CRONJOB))
    assert cronjob["spec"]["schedule"] == "*/5 * * * *"
    job_template = cronjob["spec"]["jobTemplate"]
    assert job_template["metadata"] == {"name": "cj"}
    assert job_template["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    assert job_template["spec"]["template"]["spec"]["containers"][0]["command"] == ["date"]


def test_real_kubectl_rbac() -> None:
    assert decode(_body(KUBECTL_ROLE)) == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "r"},
        "rules": [
            # The core group is the empty string: kept, it is a list element.
            {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["x"]},
            {
                "verbs": ["get", "list"],
                "apiGroups": ["apps"],
                "resources": ["deployments"],
                "resourceNames": ["x"],
            },
        ],
    }
    assert decode(_body(KUBECTL_ROLEBINDING)) == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "rb"},
        "subjects": [
            {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
            {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "g"},
            {"kind": "ServiceAccount", "name": "sa1", "namespace": "default"},
        ],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
    }
    assert decode(_body(KUBECTL_CLUSTERROLE_AGGREGATED))["aggregationRule"] == {
        "clusterRoleSelectors": [{"matchLabels": {"foo": "bar"}}]
    }
    assert decode(_body(KUBECTL_CLUSTERROLEBINDING))["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "cr",
    }


def test_real_kubectl_ingress_pdb_priorityclass_quota() -> None:
    ingress = decode(_body(KUBECTL_INGRESS))
    assert ingress["metadata"] == {"name": "ing", "annotations": {"a": "b"}}
    assert ingress["spec"] == {
        "defaultBackend": {"service": {"name": "defsvc", "port": {"name": "http"}}},
        "tls": [{"hosts": ["foo.com"], "secretName": "my-cert"}],
        "rules": [
            {
                "host": "foo.com",
                # IngressRuleValue is embedded (json:",inline"): "http" sits in the rule itself.
                "http": {
                    "paths": [
                        {
                            "path": "/bar",
                            "backend": {"service": {"name": "svc1", "port": {"number": 8080}}},
                            "pathType": "Prefix",
                        }
                    ]
                },
            }
        ],
        "ingressClassName": "nginx",
    }
    pdb = decode(_body(KUBECTL_PDB))
    assert pdb["spec"] == {"minAvailable": "50%", "selector": {"matchLabels": {"app": "x"}}}
    # Non-omitempty status counters come back as Go's JSON prints them.
    assert pdb["status"] == {
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    }
    assert decode(_body(KUBECTL_PRIORITYCLASS)) == {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "pc"},
        "value": 1000,
        "description": "hi",
        "preemptionPolicy": "Never",
    }
    assert decode(_body(KUBECTL_RESOURCEQUOTA)) == {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "q"},
        "spec": {"hard": {"cpu": "1", "memory": "1G", "pods": "2"}, "scopes": ["BestEffort"]},
        "status": {},
    }


def test_quantity_map_layout() -> None:
    """map<string, Quantity>: entry {key = 1, value = 2 -> Quantity {string = 1}}, keys sorted."""
    body = encode({"apiVersion": "v1", "kind": "ResourceQuota", "spec": {"hard": {"pods": "2", "cpu": "1"}}})
    spec = b"".join(
        [
            b"\x0a\x0a" + b"\x0a\x03cpu" + b"\x12\x03\x0a\x011",
            b"\x0a\x0b" + b"\x0a\x04pods" + b"\x12\x03\x0a\x012",
        ]
    )
    raw = b"\x12" + bytes([len(spec)]) + spec
    assert raw in body
    with pytest.raises(ProtobufError, match="quantity"):
        encode({"apiVersion": "v1", "kind": "ResourceQuota", "spec": {"hard": {"cpu": 1}}})


def test_inline_struct_layout() -> None:
    """An embedded struct is its own proto field but shares the parent's JSON object."""
    rule = {"host": "h", "http": {"paths": [{"path": "/", "backend": {}}]}}
    obj = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "spec": {"rules": [rule]}}
    assert decode(encode(obj))["spec"]["rules"] == [rule]
    assert decode(encode(obj, go_defaults=True))["spec"]["rules"] == [rule]
    # Without http the embedded message is written only with go_defaults (empty, as Go does).
    bare = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "spec": {"rules": [{"host": "h"}]}}
    assert b"\x1a\x03\x0a\x01h" in encode(bare)
    assert b"\x1a\x05\x0a\x01h\x12\x00" in encode(bare, go_defaults=True)
    assert decode(encode(bare, go_defaults=True))["spec"]["rules"] == [{"host": "h"}]
