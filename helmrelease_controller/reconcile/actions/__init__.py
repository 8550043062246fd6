"""The actions the decision table can choose, one module each: install, upgrade, rollback,
uninstall, test, unlock. Each runs its helm call (or storage write) and records its own outcome,
success and failure, in one file (base.py says how a module is shaped).
"""

from __future__ import annotations

from ..decide import Action as Decided
from ..decide import installs
from . import install, rollback, test, uninstall, unlock, upgrade
from .base import Action, ActionResult, Attempt, ReleaseTarget, Step

_MODULES: dict[Decided, Action] = {
    Decided.INSTALL: install,
    Decided.UPGRADE: upgrade,
    Decided.ROLLBACK: rollback,
    Decided.UNINSTALL: uninstall,
    Decided.TEST: test,
    Decided.UNLOCK: unlock,
}


def for_step(step: Step) -> Action:
    """The module that carries out `step`: an UPGRADE of a release never deployed (a retried first
    install) is the install."""
    if installs(step.decision, step.facts):
        return install
    return _MODULES[step.decision.action]


__all__ = ["Action", "ActionResult", "Attempt", "ReleaseTarget", "Step", "for_step"]
