"""Tenancy: with whose identity helm acts for a HelmRelease, and what a HelmRelease may refer to. Pure.

Without a ServiceAccount, helm acts as the controller itself, which can do whatever its own RBAC
allows (cluster-admin in deploy/'s single-tenant variant). With one, `spec.serviceAccountName`
or the controller's `--default-service-account`, every helm command for the release (install,
upgrade, test, rollback, uninstall) runs as `system:serviceaccount:<the HelmRelease's
namespace>:<name>` through Kubernetes impersonation (`helm --kube-as-user`), so the API server
allows it exactly what that ServiceAccount's RBAC allows; a ServiceAccount in another namespace
cannot be named. Impersonation, not a token from the TokenRequest API: there is no Secret to keep,
no expiry to track, the controller needs one RBAC rule (`impersonate` on `serviceaccounts`), and
the audit log records both identities (as Flux does). docs/security.md has the trust model.

`--no-cross-namespace-refs` refuses, as an invalid spec, a HelmRelease whose `targetNamespace`,
`storageNamespace` or `dependsOn` names another namespace than its own. (Chart credentials and
`valuesFrom` are read from the HelmRelease's own namespace always: the API has no other.)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..api.models import HelmRelease
from ..helm.failures import SA_PREFIX


@dataclass(frozen=True)
class Tenancy:
    """The controller's lockdown flags."""

    default_service_account: str | None = None  # --default-service-account
    no_cross_namespace_refs: bool = False  # --no-cross-namespace-refs

    def helm_user(self, hr: HelmRelease) -> str | None:
        """The user name helm impersonates for `hr`, or None (helm acts as the controller)."""
        return self.user(hr.namespace, hr.spec.service_account_name)

    def user(self, namespace: str, service_account: str | None) -> str | None:
        """The user name of `service_account` (else the default one) of `namespace`, as the API
        server knows it; None when neither is set (the controller's own identity). GitSyncs use it too."""
        sa = service_account or self.default_service_account
        return f"{SA_PREFIX}{namespace}:{sa}" if sa else None

    def refusals(self, hr: HelmRelease) -> list[str]:
        """One line per reference to another namespace, when those are refused."""
        if not self.no_cross_namespace_refs:
            return []
        own, refs = hr.namespace, list[str]()
        for field, ns in (
            ("targetNamespace", hr.spec.target_namespace),
            ("storageNamespace", hr.spec.storage_namespace),
        ):
            if ns and ns != own:
                refs.append(f"spec.{field}: {ns!r}")
        for i, dep in enumerate(hr.spec.depends_on):
            if dep.namespace and dep.namespace != own:
                refs.append(f"spec.dependsOn[{i}]: {dep.namespace}/{dep.name}")
        return [
            f"{ref} is in another namespace than the HelmRelease ({own}): this controller refuses "
            "cross-namespace references (--no-cross-namespace-refs)"
            for ref in refs
        ]
