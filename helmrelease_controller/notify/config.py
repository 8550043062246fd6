"""The notifications configuration file (`--notifications-config PATH`): providers and routes.

YAML (or JSON), validated strictly: an unknown field, an unknown provider named by a route or a
duplicate provider name is an error with a one-line message. Webhook URLs and signing keys are never
in the file: each provider names the Secret key holding them (`secretRef`), read at delivery time.
The format is documented in docs/notifications.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from ..api.durations import parse_duration
from ..yamlmap import NotAMapping, yaml_mapping


class ConfigError(ValueError):
    """The notifications configuration is invalid; `str()` is one line."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, alias_generator=to_camel, frozen=True)


class SecretRef(_Model):
    """A key of a Kubernetes Secret."""

    namespace: str = Field(min_length=1)
    name: str = Field(min_length=1)
    key: str = Field(min_length=1)

    def __str__(self) -> str:  # for logs: where the value lives, never the value
        return f"{self.namespace}/{self.name}[{self.key}]"


class ProviderConfig(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
    type: Literal["slack", "webhook"]
    secret_ref: SecretRef  # the URL
    channel: str | None = None  # slack: override the webhook's channel
    username: str | None = None  # slack: override the webhook's user name
    signing_secret_ref: SecretRef | None = None  # webhook: HMAC-SHA256 key

    @model_validator(mode="after")
    def _fields_of_type(self) -> ProviderConfig:
        if self.type == "webhook" and (self.channel or self.username):
            raise ValueError("channel and username are for slack providers")
        if self.type == "slack" and self.signing_secret_ref is not None:
            raise ValueError("signingSecretRef is for webhook providers")
        return self


class Requirement(_Model):
    key: str = Field(min_length=1)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _values(self) -> Requirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs values")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self


class LabelSelector(_Model):
    """A Kubernetes label selector: every matchLabels pair and every expression must hold."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[Requirement] = Field(default_factory=list)

    def matches(self, labels: dict[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        for r in self.match_expressions:
            present = r.key in labels
            ok = {
                "In": present and labels.get(r.key) in r.values,
                "NotIn": not present or labels.get(r.key) not in r.values,
                "Exists": present,
                "DoesNotExist": not present,
            }[r.operator]
            if not ok:
                return False
        return True


class Match(_Model):
    """What a route matches; every criterion given must hold; none given matches everything."""

    namespaces: list[str] | None = None  # HelmRelease namespaces
    selector: LabelSelector | None = None  # HelmRelease labels
    outcomes: list[Literal["failed", "stalled", "recovered", "drifted"]] | None = None


class Route(_Model):
    match: Match = Field(default_factory=Match)
    providers: list[str] = Field(min_length=1)


class NotificationsConfig(_Model):
    cluster: str = ""  # the cluster's name, shown in every message
    dedup_window: float = 600.0  # seconds (a duration string in the file: "10m")
    queue_size: int = Field(default=1000, ge=1)  # per provider
    max_attempts: int = Field(default=5, ge=1, le=20)
    timeout: float = 10.0  # per request
    max_retry_after: float = 60.0  # cap on a Retry-After wait
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    proxy_from_environment: bool = True  # HTTPS_PROXY / NO_PROXY
    providers: list[ProviderConfig] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)

    @field_validator(
        "dedup_window", "timeout", "max_retry_after", "backoff_initial", "backoff_max", mode="before"
    )
    @classmethod
    def _duration(cls, v: Any) -> Any:
        if isinstance(v, str):
            return parse_duration(v)
        return v

    @model_validator(mode="after")
    def _references(self) -> NotificationsConfig:
        names = [p.name for p in self.providers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate provider name(s): {', '.join(dupes)}")
        for i, route in enumerate(self.routes):
            unknown = [p for p in route.providers if p not in names]
            if unknown:
                raise ValueError(f"routes[{i}]: unknown provider(s): {', '.join(unknown)}")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        return self

    def provider(self, name: str) -> ProviderConfig | None:
        return next((p for p in self.providers if p.name == name), None)


def parse_config(text: str, where: str = "notifications config") -> NotificationsConfig:
    """Parse and validate a configuration document. Raises ConfigError (one line)."""
    try:
        data = yaml_mapping(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: not valid YAML: {' '.join(str(e).split())}") from None
    except NotAMapping:
        raise ConfigError(f"{where}: must be a mapping with providers and routes") from None
    try:
        return NotificationsConfig.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "<root>"
        msg = str(first["msg"]).removeprefix("Value error, ")
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise ConfigError(f"{where}: {loc}: {msg}{more}") from None


def load_config(path: str | Path) -> NotificationsConfig:
    """Read `--notifications-config PATH`. Raises ConfigError (one line) when unreadable or invalid."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(f"notifications config {path}: {e.strerror or e}") from None
    return parse_config(text, where=str(path))


__all__ = [
    "ConfigError",
    "LabelSelector",
    "Match",
    "NotificationsConfig",
    "ProviderConfig",
    "Requirement",
    "Route",
    "SecretRef",
    "load_config",
    "parse_config",
]
