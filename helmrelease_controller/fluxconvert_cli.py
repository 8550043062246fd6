"""`helmrelease-controller convert`: the I/O edge of fluxconvert/ (reading YAML files or stdin,
writing the converted documents to stdout as YAML, warnings to stderr, the exit code)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

import yaml

from . import fluxconvert

EPILOG = """\
example:
  helmrelease-controller convert apps/podinfo.yaml sources/podinfo-repo.yaml > podinfo.hr.yaml
  kustomize build flux/apps | helmrelease-controller convert - | kubectl apply -f -

A Flux v2 HelmRelease's sourceRef/chartRef must be resolvable from the input: convert it together
with its HelmRepository, GitRepository, OCIRepository or HelmChart. Fields without an equivalent
are dropped with one warning line each on stderr (docs/migrating-from-flux.md).

exit codes: 0 converted (warnings may have been printed), 1 something could not be converted
(it is not in the output; with --strict also when a field was dropped), 2 usage.
"""


def register(sub: Any) -> None:
    """Add the `convert` subcommand to an argparse subparsers object."""
    p = sub.add_parser(
        "convert",
        help="convert Flux v1/v2 HelmReleases to helmrelease.dev/v1",
        description="Convert Flux v1 (helm.fluxcd.io/v1) and Flux v2 (helm.toolkit.fluxcd.io/v2, "
        "v2beta1, v2beta2) HelmRelease YAML into helmrelease.dev/v1 HelmReleases on stdout.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="YAML files to convert; - reads stdin")
    p.add_argument("--strict", action="store_true", help="exit 1 also when a field was dropped")


def _load(files: list[str], stdin: TextIO) -> tuple[list[Any], list[str]]:
    """The YAML documents of `files`, and one line per file that could not be read or parsed."""
    docs: list[Any] = []
    errors: list[str] = []
    for name in files:
        try:
            text = stdin.read() if name == "-" else open(name, encoding="utf-8").read()  # noqa: SIM115
            docs += list(yaml.safe_load_all(text))
        except OSError as e:
            errors.append(f"{name}: {e.strerror or e}")
        except yaml.YAMLError as e:
            errors.append(f"{name}: not valid YAML: {' '.join(str(e).split())}")
    return docs, errors


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (a values.yaml in a ConfigMap, a patch) as literal blocks, as people write them."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(result: fluxconvert.Result) -> str:
    """The converted documents as one YAML stream, each preceded by its comment lines."""
    parts = []
    for doc in result.documents:
        comments = "".join(f"# {line}\n" for line in doc.comments)
        parts.append(comments + yaml.dump(doc.obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False))
    return "---\n".join(parts)


def main(
    args: argparse.Namespace, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    docs, errors = _load(args.files, stdin)
    result = fluxconvert.convert(docs)
    out.write(render(result))
    for line in errors + result.warnings:
        print(f"warning: {line}", file=err)
    if errors or result.failed:
        return 1
    dropped = any(fluxconvert.NO_EQUIVALENT in w or "not known" in w for w in result.warnings)
    return 1 if args.strict and dropped else 0
