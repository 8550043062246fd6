"""yamlmap.yaml_mapping: null and empty documents are {}, lists and scalars are refused by type."""

from __future__ import annotations

import pytest
import yaml

from helmrelease_controller.valuesyaml import load_values
from helmrelease_controller.yamlmap import NotAMapping, yaml_mapping


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", {}), ("~\n", {}), ("# only a comment\n", {}), ("a: 1\nb: [x]\n", {"a": 1, "b": ["x"]})],
)
def test_mappings(text: str, expected: dict[str, object]) -> None:
    assert yaml_mapping(text) == expected
    assert yaml_mapping(text.encode(), load_values) == expected


@pytest.mark.parametrize(("text", "type_name"), [("- 1\n", "list"), ("hello\n", "str"), ("3\n", "int")])
def test_not_a_mapping_names_the_type(text: str, type_name: str) -> None:
    with pytest.raises(NotAMapping, match=f"^{type_name}$"):
        yaml_mapping(text)


def test_invalid_yaml_is_the_loaders_error() -> None:
    with pytest.raises(yaml.YAMLError):
        yaml_mapping("a: [\n")
