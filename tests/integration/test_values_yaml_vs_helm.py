"""valuesyaml.load_values reads a values file as the real helm does (v4.3.1 and v3.17.3).

One `helm template -f <file>` per check: the chart's only template dumps `.Values` as base64 JSON,
and the result is compared with ours. Helm holds every number as a float64, so numbers are compared
as floats; everything else strictly. The scalars are the unit table plus a few hundred generated
from a fixed seed (digits, signs, dots, exponents, underscores, base prefixes, y/n letters).
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from helmrelease_controller.valuesyaml import ValuesYAMLError, load_values
from tests.unit.test_values_yaml import SCALARS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\n"
    "data:\n  v: {{ .Values | toJson | b64enc | quote }}\n"
)


@pytest.fixture(
    params=[pytest.param("helm", marks=pytest.mark.helm4), pytest.param("helm3", marks=pytest.mark.helm3)]
)
def helm_values(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A function: YAML text -> helm's `.Values` (parsed JSON), or the error line helm printed."""
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(TEMPLATE)
    home = tmp_path / "home"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / "c"),
        "HELM_CONFIG_HOME": str(home / "f"),
        "HELM_DATA_HOME": str(home / "d"),
    }

    def render(text: str) -> Any:
        values = tmp_path / "values.yaml"
        values.write_text(text)
        proc = subprocess.run(
            [str(ROOT / ".bin" / request.param), "template", "p", str(chart), "-f", str(values)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        if proc.returncode != 0:
            return proc.stderr.strip()
        for doc in yaml.safe_load_all(proc.stdout):
            if doc and doc.get("kind") == "ConfigMap":
                return json.loads(base64.b64decode(doc["data"]["v"]), parse_int=float)  # "-0" stays -0.0
        raise AssertionError(proc.stdout)

    return render


def as_helm(obj: Any) -> Any:
    """Numbers as float64, the way Helm holds them after its YAML -> JSON conversion."""
    if isinstance(obj, dict):
        return {k: as_helm(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [as_helm(v) for v in obj]
    if isinstance(obj, int | float) and not isinstance(obj, bool):
        return float(obj)
    return obj


def generated_scalars(count: int) -> list[str]:
    """Number-like and bool-like plain scalars: sign, base prefix, digits with `_`, fraction, exponent."""
    rng = random.Random(20261203)

    def digits(chars: str) -> str:
        return "".join(rng.choice(chars + "_" * (rng.random() < 0.2)) for _ in range(rng.randint(0, 4)))

    def one() -> str:
        sign = rng.choice(["", "", "-", "+"])
        kind = rng.randrange(6)
        if kind == 0:  # integers in a base
            prefix = rng.choice(["0x", "0X", "0o", "0b", "0", "", ""])
            return sign + prefix + digits("0123456789abcdefxob" if rng.random() < 0.2 else "0189")
        if kind == 1:  # floats
            exp = rng.choice(["", "", "e", "E"]) + rng.choice(["", "+", "-"]) * (rng.random() < 0.5)
            exp += digits("0123") if exp else ""
            return sign + digits("0129") + rng.choice([".", ".", ""]) + digits("05") + exp
        if kind == 2:  # base 60 and dates
            return sign + digits("0123456789") + ":" + digits("0123456789") + rng.choice(["", ":1", ".5"])
        if kind == 3:
            return f"{rng.randint(1, 9999)}-{rng.randint(1, 12)}-{rng.randint(1, 40)}" + rng.choice(
                ["", "T10:00:00Z", "t1:2:3.5+01:00", " 10:00:00"]
            )
        if kind == 4:  # bools, nulls, specials, in various cases
            word = rng.choice(
                ["y", "n", "yes", "no", "on", "off", "true", "false", "null", ".inf", ".nan", "~"]
            )
            return rng.choice([word, word.upper(), word.capitalize(), sign + word])
        return "".join(rng.choice("0123456789+-._eExXobB:yYnN") for _ in range(rng.randint(1, 6)))

    out: list[str] = []
    while len(out) < count:
        text = one()
        try:  # only what YAML takes as one plain scalar, JSON-representable for Helm
            ok = yaml.load(f"k: {text}\n", Loader=yaml.BaseLoader) == {"k": text}
            ok = ok and text.lstrip("+-").lower() not in (".inf", ".nan")
        except yaml.YAMLError:
            ok = False
        if ok and text not in out:
            out.append(text)
    return out


def test_scalars_match_helm(helm_values: Any) -> None:
    texts = [t for t, _ in SCALARS] + generated_scalars(400)
    document = "".join(f"k{i}: {t}\n" for i, t in enumerate(texts))
    ours = load_values(document)
    theirs = helm_values(document)
    assert isinstance(theirs, dict), theirs
    mismatches = [
        (t, ours[f"k{i}"], theirs.get(f"k{i}"))
        for i, t in enumerate(texts)
        if json.dumps(as_helm(ours[f"k{i}"])) != json.dumps(as_helm(theirs.get(f"k{i}")))
    ]
    assert mismatches == []


@pytest.mark.parametrize(
    "document",
    [
        "{1: a, 2.5: b, true: c, 1e3: d, 0x10: e, 12345678901: f, 0.1: g, 1e6: h, 1e40: i, y: j, off: k}",
        "base: &b {x: 1, z: 2024-01-01}\nmerged: {<<: *b, x: 3}\n",
        "k: !!str 12\nf: !!float 1\ni: !!int '12'\nt: !!timestamp 2024-01-01\nu: !custom 12\n",
        "l: [2024-01-01, {d: 2024-01-02, n: ~}, yes, 017]\n",
        "k: !!set {a, b}\nb: !!binary aGVsbG8=\n",
    ],
)
def test_documents_match_helm(helm_values: Any, document: str) -> None:
    assert json.dumps(as_helm(load_values(document)), sort_keys=True) == json.dumps(
        as_helm(helm_values(document)), sort_keys=True
    )


@pytest.mark.parametrize("document", ["k: .nan\n", "k: -.inf\n", "~: a\n", "18446744073709551615: a\n"])
def test_what_helm_cannot_convert_we_refuse(helm_values: Any, document: str) -> None:
    assert "error converting YAML to JSON" in helm_values(document)
    with pytest.raises(ValuesYAMLError):
        load_values(document)
