"""A YAML document that must be a mapping (a config file, a chart's values.yaml). Pure.

Owns the one rule both read by: a null or empty document is an empty mapping, a list or a scalar
is refused. The caller picks the loader and words its own one-line error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

__all__ = ["NotAMapping", "yaml_mapping"]


class NotAMapping(ValueError):
    """The document is a list or a scalar; the message is its Python type's name (list, str, ...)."""


def yaml_mapping(text: str | bytes, load: Callable[[str | bytes], Any] = yaml.safe_load) -> dict[str, Any]:
    """`text` parsed by `load` as a mapping ({} for a null or empty document).

    Raises yaml.YAMLError when it is not YAML, NotAMapping when it is not a mapping.
    """
    data = load(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise NotAMapping(type(data).__name__)
    return data
