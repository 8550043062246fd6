"""A load-balancer controller (as k3s' servicelb): Services of type LoadBalancer get an address.

Shortly after a Service of type LoadBalancer is created (or changed to that type)
its `status.loadBalancer.ingress` gets `[{ip, ipMode: VIP}]`, an address from
172.18.255.0/24 (a private range, outside the service and pod ranges), so
`helm --wait` and `kubectl wait` see it ready. A Service annotated
`kubesim.dev/load-balancer: pending`, or every Service when the switch
`enabled` is False (`KubeSim().controllers.load_balancer.enabled = False`), gets
no address, as on a cluster without a load-balancer implementation (an address
already given is kept). A Service that stops being a LoadBalancer loses its address.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable

from .resources import ResourceType
from .store import Obj

PENDING = "kubesim.dev/load-balancer"
RANGE = "172.18.255.0/24"

SetStatus = Callable[[ResourceType, Obj, Obj], None]


class LoadBalancer:
    def __init__(self, set_status: SetStatus) -> None:
        self.set_status = set_status
        self.enabled = True
        self._hosts = list(ipaddress.ip_network(RANGE).hosts())
        self._next = 0
        self._assigned: dict[str, str] = {}  # service uid -> address (stable across updates)

    def _address(self, uid: str) -> str:
        if uid not in self._assigned:
            self._assigned[uid] = str(self._hosts[self._next % len(self._hosts)])
            self._next += 1
        return self._assigned[uid]

    def reconcile(self, rt: ResourceType, svc: Obj) -> None:
        meta = svc.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return
        status = copy.deepcopy(svc.get("status") or {})
        ingress = (status.get("loadBalancer") or {}).get("ingress")
        is_lb = (svc.get("spec") or {}).get("type") == "LoadBalancer"
        pending = (meta.get("annotations") or {}).get(PENDING) == "pending" or not self.enabled
        if is_lb and not pending:
            want = [{"ip": self._address(meta["uid"]), "ipMode": "VIP"}]
            if ingress == want:
                return
            status["loadBalancer"] = {"ingress": want}
        elif ingress and not is_lb:
            status["loadBalancer"] = {}
        else:
            return
        self.set_status(rt, svc, status)
