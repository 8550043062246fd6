"""Drift detection in a reconcile: look at the live objects, report (warn) or put back (enabled).

Runs when a reconcile finds the release in sync (nothing for helm to do) and
`spec.driftDetection.mode` is `warn` or `enabled`. It reads the deployed revision's manifest
from Helm's storage (once per revision), each object's live copy as the identity helm acts as
(tenancy: the HelmRelease's ServiceAccount; a remote cluster's client), and compares them
(drift/compare.py). Nothing drifted: no helm process, no write (the `Drifted=False` condition
is written once). `warn`: condition `Drifted=True` with a one-line summary, an event and a
notification when the drift changes. `enabled`: the drifted objects are applied again
(drift/live.py `restore`: server-side apply, no helm revision), an event says what was put back;
a drift that comes back `FIGHT_LIMIT` times in a row (something else keeps changing the field)
is reported as fought and no longer corrected until it changes. A check that cannot run
(Helm's storage or an object unreadable) says so on the condition and never fails the reconcile.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..api.models import CONDITION_DRIFTED, HelmRelease
from ..drift.compare import Drift, IgnoreRule, drift_of, ignored_paths, summary
from ..drift.live import Desired, Discovery, Manifests, desired_objects, look, restore
from ..kube.client import ApiError, KubeClient
from ..notify import DRIFTED
from . import status as st
from .helmstorage import ReleaseObservation
from .report import Reporter
from .run import Run

log = logging.getLogger(__name__)

FIGHT_LIMIT = 3  # the same drift corrected this many times in a row: reported, not corrected again

Key = tuple[str, str]


@dataclass
class Found:
    """What one check saw and did."""

    checked: int = 0  # objects compared
    drifts: list[Drift] = field(default_factory=list)
    corrected: list[Drift] = field(default_factory=list)
    fought: list[Drift] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # kinds the cluster does not serve


Cond = tuple[bool | None, str, str]  # the Drifted condition: status (None: Unknown), reason, message


def condition_for(mode: str, found: Found) -> Cond:
    """The Drifted condition after a check (pure)."""
    if found.fought:
        return (
            True,
            "DriftCorrectionFought",
            f"{summary(found.fought)}: came back after {FIGHT_LIMIT} corrections in a row (something "
            "else changes it); not corrected again until it changes",
        )
    if found.drifts and mode == "warn":
        return True, "DriftDetected", summary(found.drifts)
    if found.corrected:
        return False, "DriftCorrected", f"corrected: {summary(found.corrected)}"
    unknown = f" ({len(found.unknown)} of an unknown kind not checked)" if found.unknown else ""
    return False, "NoDrift", f"no drift in {found.checked} objects{unknown}"


def ignore_rules(hr: HelmRelease) -> list[IgnoreRule]:
    out = []
    for rule in hr.spec.drift_detection.ignore:
        target = rule.target
        names = ("kind", "name", "namespace", "group", "version", "label_selector", "annotation_selector")
        fields = {k: getattr(target, k, None) for k in names}
        out.append(IgnoreRule(tuple(rule.paths), **fields))
    return out


class DriftChecker:
    def __init__(self, report: Reporter) -> None:
        self.report = report
        self.manifests = Manifests()
        self.discovery = Discovery()
        self._fights: dict[Key, dict[tuple[Any, ...], int]] = {}  # corrections in a row, per drift
        self.checks = 0

    def forget(self, key: Key) -> None:
        self._fights.pop(key, None)

    async def check(
        self, run: Run, hr: HelmRelease, release: ReleaseObservation, storage: KubeClient, client: KubeClient
    ) -> None:
        """One check of the deployed release (`storage`: reads Helm's storage; `client`: reads and
        applies the release's objects, as helm's identity). Updates `run.status` and reports."""
        mode, latest = hr.spec.drift_detection.mode, release.latest
        if latest is None or not latest.secret_name:
            return
        self.checks += 1
        try:
            ns, objs = await self.manifests.objects(storage, latest.namespace, latest.secret_name)
            desired = await desired_objects(client, self.discovery, objs, ns)
            rules = ignore_rules(hr)
            found = await self._compare(client, desired, rules)
            if mode == "enabled" and found.drifts:
                await self._correct(run.key, desired, found, client, rules)
        except (ApiError, OSError, TimeoutError) as e:
            self._set(run, hr, (None, "DriftCheckFailed", f"drift check failed: {st.one_line(str(e), 200)}"))
            return
        if not found.drifts:
            self._fights.pop(run.key, None)
        self._set(run, hr, condition_for(mode, found), found)

    @staticmethod
    async def _compare(client: KubeClient, desired: Sequence[Desired], rules: list[IgnoreRule]) -> Found:
        found = Found()
        for d in desired:
            if d.resource is None:
                found.unknown.append(str(d.ref))
                continue
            found.checked += 1
            drift = drift_of(
                d.obj, await look(client, d), ignored_paths(d.ref, rules, d.obj), d.ref.namespace
            )
            if drift is not None:
                found.drifts.append(drift)
        return found

    async def _correct(
        self, key: Key, desired: Sequence[Desired], found: Found, client: KubeClient, rules: list[IgnoreRule]
    ) -> None:
        by_ref = {d.ref: d for d in desired}
        fights = self._fights.setdefault(key, {})
        seen = {(d.ref, d.paths, d.deleted) for d in found.drifts}
        for sig in [s for s in fights if s not in seen]:
            del fights[sig]  # that drift is gone: its count starts again
        for drift in found.drifts:
            sig = (drift.ref, drift.paths, drift.deleted)
            if fights.get(sig, 0) >= FIGHT_LIMIT:
                found.fought.append(drift)
                continue
            d = by_ref[drift.ref]
            await restore(client, d, ignored_paths(d.ref, rules, d.obj))
            fights[sig] = fights.get(sig, 0) + 1
            found.corrected.append(drift)

    def _set(self, run: Run, hr: HelmRelease, cond: Cond, found: Found | None = None) -> None:
        value, reason, message = cond
        prev = run.status.condition(CONDITION_DRIFTED)
        run.status = st.set_condition(
            run.status, CONDITION_DRIFTED, value, reason, message, run.gen, run.now()
        )
        now = run.status.condition(CONDITION_DRIFTED)
        changed = prev is None or now is None or (prev.status, prev.message) != (now.status, now.message)
        if found is not None and found.corrected:
            self.report.event(run.obj, True, reason, message, "DriftCorrection")
        elif changed and reason != "NoDrift":
            self.report.event(run.obj, False, reason, message, "DriftDetection")
        if changed and reason in ("DriftDetected", "DriftCorrected", "DriftCorrectionFought"):
            self.report.notify(
                run.obj, DRIFTED, message, release=hr.release_name, namespace=hr.target_namespace
            )
