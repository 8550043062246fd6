"""The HelmRelease API's names: group, version, kind, finalizer, annotations, condition types. Pure.

Owns the constants of DESIGN.md "Names" (a contract: renaming one breaks existing objects and
clients). Re-exported by models.py.
"""

from __future__ import annotations

from typing import Final

# --- Names (DESIGN.md "Names": a contract) -------------------------------------------------------

GROUP = "helmrelease.dev"
VERSION = "v1"
API_VERSION: Final = "helmrelease.dev/v1"
KIND: Final = "HelmRelease"
LIST_KIND = "HelmReleaseList"
PLURAL = "helmreleases"
SINGULAR = "helmrelease"
SHORT_NAMES: tuple[str, ...] = ("hr",)
CRD_NAME = f"{PLURAL}.{GROUP}"
FINALIZER = f"{GROUP}/finalizer"

ANNOTATION_PREFIX = f"{GROUP}/"
ANNOTATION_SUSPEND = f"{GROUP}/suspend"
ANNOTATION_RECONCILE_REQUESTED_AT = f"{GROUP}/reconcile-requested-at"
ANNOTATION_FORCE_AT = f"{GROUP}/force-at"
ANNOTATION_RESET_AT = f"{GROUP}/reset-at"

CONDITION_READY = "Ready"
CONDITION_RELEASED = "Released"
CONDITION_RECONCILING = "Reconciling"
CONDITION_STALLED = "Stalled"
CONDITION_REMEDIATED = "Remediated"
CONDITION_TEST_SUCCESS = "TestSuccess"
CONDITION_DRIFTED = "Drifted"
CONDITION_TYPES: tuple[str, ...] = (
    CONDITION_READY,
    CONDITION_RELEASED,
    CONDITION_RECONCILING,
    CONDITION_STALLED,
    CONDITION_REMEDIATED,
    CONDITION_TEST_SUCCESS,
    CONDITION_DRIFTED,
)
REASON_SUSPENDED = "Suspended"

#: Helm refuses longer release names.
RELEASE_NAME_MAX_LENGTH = 53
