"""kubesim: an in-memory Kubernetes API server for tests, the demo and benchmarks.

It speaks the real Kubernetes HTTP API so that the real helm and kubectl binaries
and the official Python client can be pointed at it. Start one with
``python -m kubesim --port 0 --kubeconfig-out FILE`` or in-process::

    with KubeSim() as sim:
        sim.write_kubeconfig("kubeconfig")

Module map: resources (kinds and names), store (objects, versions, 409s,
finalizers), validation (names per kind, labels), immutable (fields an update may
not change: selectors, clusterIP, immutable ConfigMaps/Secrets ...), limits (size
limits: request body, annotations, Secret/ConfigMap data, etcd), schemas (each kind's
schema: CRD structural schemas and the built-in kinds' 1.37 schemas; pruning, defaults,
fieldValidation, validation), celrules (x-kubernetes-validations), fielderrors (field
errors worded as kube-apiserver's, and their 422/400), selectors, patch (merge, JSON,
strategic, apply), scale (the scale subresource), conversion (versions sharing
one storage: events.k8s.io/v1 and core v1 Events), protobuf (request bodies),
discovery (discovery and OpenAPI v3), watch, tables (kubectl printing),
controllers (simulated workload controllers, namespaces, CRDs), defaults
(write-time defaulting), gc (garbage collector, deletion propagation), furniture
(default ServiceAccount, kube-root-ca.crt, the Node, APIServices), loadbalancer
(LoadBalancer addresses), workloads (ReplicaSet/StatefulSet/DaemonSet/Job controllers that
make Pods), deployments (the Deployment controller), pods (Pod construction, defaults and
failure modes), kubelet (scheduling and running pods, failures as the kubelet reports them),
events (an event recorder), timers (one timer for all back-offs), podlogs (pods/log), owners
(the ownerReference index), faults (fault injection, request log), server (HTTP layer), sim
(the running server and its test hooks).
"""

from .sim import KubeSim, kubeconfig

__all__ = ["KubeSim", "kubeconfig"]
