"""Authentication: bearer tokens to identities, and impersonation headers to the acting identity.

Three kinds of token: the admin token of the kubeconfig kubesim writes (user
`kubesim-admin`, group system:masters), tokens minted for tests with `add_user` (any
name and groups), and ServiceAccount tokens minted by the TokenRequest API (JWTs signed
by this server, valid while they have not expired and the ServiceAccount still exists
with the same uid). Every authenticated identity also gets system:authenticated, as the
apiserver's authenticator adds it. `impersonation` reads Impersonate-User/-Group/-Uid/
-Extra-* into the checks the apiserver makes (verb `impersonate` on users, groups,
serviceaccounts, uids, userextras) and the identity the request then acts as.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .rbac import AUTHENTICATED, Attributes, UserInfo, service_account_user, split_service_account

ADMIN_TOKEN = "kubesim"
ADMIN = UserInfo("kubesim-admin", ("system:masters", AUTHENTICATED))
ISSUER = "https://kubernetes.default.svc.cluster.local"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _with_authenticated(user: UserInfo) -> UserInfo:
    if AUTHENTICATED in user.groups:
        return user
    return UserInfo(user.name, (*user.groups, AUTHENTICATED), user.uid, user.extra)


class Authenticator:
    def __init__(self) -> None:
        self._tokens: dict[str, UserInfo] = {ADMIN_TOKEN: ADMIN}
        self._key = secrets.token_bytes(32)

    def add_user(self, name: str, groups: tuple[str, ...] | list[str] = (), uid: str = "") -> str:
        """A new bearer token for `name` in `groups` (tests' per-user kubeconfigs)."""
        token = f"kubesim-user-{secrets.token_urlsafe(24)}"
        self._tokens[token] = _with_authenticated(UserInfo(name, tuple(groups), uid))
        return token

    def mint_service_account_token(
        self,
        namespace: str,
        name: str,
        uid: str,
        seconds: int,
        audiences: list[str],
        now: float | None = None,
    ) -> tuple[str, int]:
        """(JWT, expiry as Unix seconds) for the ServiceAccount."""
        iat = int(now if now is not None else time.time())
        claims = {
            "aud": audiences, "exp": iat + seconds, "iat": iat, "nbf": iat, "iss": ISSUER,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}},
            "sub": f"system:serviceaccount:{namespace}:{name}",
        }  # fmt: skip
        head = _b64(json.dumps({"alg": "HS256", "kid": "kubesim"}).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = _b64(hmac.new(self._key, f"{head}.{body}".encode(), hashlib.sha256).digest())
        return f"{head}.{body}.{sig}", iat + seconds

    def authenticate(
        self, authorization: str | None, sa_uid: Callable[[str, str], str | None], now: float | None = None
    ) -> UserInfo | None:
        """The identity of an `Authorization: Bearer ...` header; None: 401."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        token = authorization[len("Bearer ") :].strip()
        user = self._tokens.get(token)
        if user is not None:
            return user
        return self._service_account(token, sa_uid, now if now is not None else time.time())

    def _service_account(
        self, token: str, sa_uid: Callable[[str, str], str | None], now: float
    ) -> UserInfo | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        want = _b64(hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(want, parts[2]):
            return None
        try:
            claims = json.loads(_unb64(parts[1]))
            ns = claims["kubernetes.io"]["namespace"]
            sa = claims["kubernetes.io"]["serviceaccount"]
            name, uid = sa["name"], sa["uid"]
            expired = now >= float(claims["exp"])
        except (ValueError, KeyError, TypeError):
            return None
        if expired or sa_uid(ns, name) != uid:
            return None
        return service_account_user(ns, name, uid)


@dataclass
class Impersonation:
    checks: list[Attributes]  # each must be allowed (verb impersonate), in this order
    user: UserInfo  # the identity the request acts as


class ImpersonationError(Exception):
    """A malformed set of Impersonate-* headers (400)."""


def impersonation(requestor: UserInfo, headers: Mapping[str, list[str]]) -> Impersonation | None:
    """The impersonation a request asks for (None: none); `headers` maps lower-case names to values."""
    users = headers.get("impersonate-user", [])
    groups = headers.get("impersonate-group", [])
    uids = headers.get("impersonate-uid", [])
    extras = {
        k[len("impersonate-extra-") :]: v for k, v in headers.items() if k.startswith("impersonate-extra-")
    }
    if not users:
        if groups or uids or extras:
            raise ImpersonationError("requested impersonation without impersonating a user")
        return None
    target = users[0]
    checks: list[Attributes] = []
    sa = split_service_account(target)
    if sa is not None:
        checks.append(
            Attributes(requestor, "impersonate", namespace=sa[0], resource="serviceaccounts", name=sa[1])
        )
        acting_groups = list(groups) if groups else list(service_account_user(*sa).groups[:2])
    else:
        checks.append(Attributes(requestor, "impersonate", resource="users", name=target))
        acting_groups = list(groups)
    checks += [Attributes(requestor, "impersonate", resource="groups", name=g) for g in groups]
    for key, values in extras.items():
        checks += [
            Attributes(requestor, "impersonate", api_group="authentication.k8s.io", resource="userextras",
                       subresource=key, name=v)
            for v in values
        ]  # fmt: skip
    uid = uids[0] if uids else ""
    if uid:
        checks.append(
            Attributes(requestor, "impersonate", api_group="authentication.k8s.io", resource="uids", name=uid)
        )
    if target != "system:anonymous" and AUTHENTICATED not in acting_groups:
        acting_groups.append(AUTHENTICATED)
    extra = {k: tuple(v) for k, v in extras.items()}
    return Impersonation(checks, UserInfo(target, tuple(acting_groups), uid, extra))
