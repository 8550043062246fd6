"""Rendering a commit for a GitSync: the YAML documents under `path`, each with its file and line.

`render(root, path)` reads a checked-out commit (a `git archive` export) and returns every
document of every `.yaml`/`.yml` file under `path`, recursively, in sorted file order; or, when
`path` holds a kustomization (kustomization.yaml, kustomization.yml or Kustomization), the
documents of `kubectl kustomize <path>` (the real kubectl; their file is then
`kustomize build <path>` and their line the line in its output; remote resources, bases and
components are refused: kustomize would fetch them outside the git mirror). Broken YAML, a
document that is not a mapping, or a failing kustomize build is a `RenderError` whose lines read
`file:line: problem`.

Each `Document` keeps its YAML node, so `line_of` can map a field path from a validation message
(`spec.chart.git.url`, `spec.valuesFrom[0].name`) to the line it is on. `render` is async: kubectl
runs through `procs.run` (its own process group, killed whole on timeout or cancellation), and the
blocking file reading and parsing run in threads.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from helmrelease_controller import procs

__all__ = ["KUSTOMIZATION_FILES", "Document", "RenderError", "line_of", "parse_documents", "render"]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MAX_FILE_BYTES = 4 << 20  # a YAML file larger than this is refused, not read


class RenderError(Exception):
    """The commit cannot be rendered; `messages` holds one `file:line: problem` line per problem."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
        super().__init__(messages[0] + more)


@dataclass(frozen=True)
class Document:
    """One YAML document: the parsed object, where it starts (file relative to the repository root,
    1-based line) and its YAML node (for `line_of`)."""

    obj: Any
    file: str
    line: int
    node: yaml.Node | None = field(default=None, repr=False, compare=False)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is ~10x faster, same marks


class _Loader(_Base):
    """SafeLoader without the timestamp resolver: dates stay strings (they are sent as JSON)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _problem(exc: yaml.YAMLError) -> tuple[int, str]:
    """(1-based line, one-line description) of a YAML error."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    text = f"{context}: {problem}" if context and problem else str(problem)
    return (mark.line + 1 if mark is not None else 1), " ".join(text.split())


def parse_documents(text: str, file: str) -> list[Document]:
    """The non-empty documents of `text`; RenderError (`file:line: invalid YAML: ...`) when broken."""
    loader = _Loader(text)
    docs: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            obj = loader.construct_document(node)
            line = node.start_mark.line + 1
            if obj is None:
                continue
            if not isinstance(obj, dict):
                kind = "a list" if isinstance(obj, list) else "a scalar"
                raise RenderError(
                    [f"{file}:{line}: a document must be a Kubernetes object (a mapping), not {kind}"]
                )
            docs.append(Document(obj, file, line, node))
    except yaml.YAMLError as exc:
        line, problem = _problem(exc)
        raise RenderError([f"{file}:{line}: invalid YAML: {problem}"]) from None
    finally:
        loader.dispose()
    return docs


def _yaml_files(top: Path) -> list[Path]:
    """Every .yaml/.yml file under `top`, recursively, sorted by relative path; symlinks not followed."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            p = Path(dirpath) / name
            if name.endswith((".yaml", ".yml")) and not name.startswith(".") and not p.is_symlink():
                found.append(p)
    return sorted(found, key=lambda p: p.relative_to(top).as_posix())


_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|github\.com/|gitlab\.com/|bitbucket\.org/)", re.I)
_REFERENCE_FIELDS = ("resources", "bases", "components")


def _remote_references(root: Path) -> list[str]:
    """`file:line: ...` for every resource, base or component of a kustomization in the commit that
    is fetched from elsewhere (kustomize would reach the network outside the git mirror's rules)."""
    problems: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(set(filenames) & set(KUSTOMIZATION_FILES)):
            file = Path(dirpath) / name
            rel = file.relative_to(root).as_posix()
            try:
                docs = parse_documents(file.read_text(encoding="utf-8"), rel)
            except (RenderError, UnicodeDecodeError):
                continue  # kustomize reports it
            for doc in docs:
                for key in _REFERENCE_FIELDS:
                    entries = doc.obj.get(key)
                    for i, entry in enumerate(entries if isinstance(entries, list) else []):
                        if isinstance(entry, str) and _REMOTE.match(entry.strip()):
                            problems.append(
                                f"{rel}:{line_of(doc, f'{key}[{i}]')}: remote {key} entry {entry.strip()!r} "
                                "is not allowed: only paths inside the repository"
                            )
    return problems


async def _kustomize(root: Path, rel: str, kubectl: str, timeout: float) -> list[Document]:
    where = f"kustomize build {rel or '.'}"
    remote = await asyncio.to_thread(_remote_references, root)
    if remote:
        raise RenderError(remote)
    argv = [kubectl, "kustomize", str(root / rel) if rel else str(root)]
    env = {**os.environ, "KUBECONFIG": os.devnull}
    try:
        done = await procs.run(argv, timeout=timeout, cwd=root, env=env, tool="kubectl")
    except procs.ProcessError as exc:
        why = f"timed out after {timeout:g}s" if exc.timed_out else f"cannot run kubectl ({exc.why})"
        raise RenderError([f"{where}: {why}"]) from None
    if done.rc != 0:
        lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
        reason = next((ln for ln in lines if ln.startswith("error:")), lines[-1] if lines else "failed")
        reason = reason.removeprefix("error: ").replace(str(root) + "/", "")
        raise RenderError([f"{where}: {reason}"])
    return await asyncio.to_thread(parse_documents, done.stdout.decode(errors="replace"), where)


async def render(
    root: Path, path: str = ".", *, kubectl: str = "kubectl", timeout: float = 60.0
) -> list[Document]:
    """The documents of the commit checked out at `root` under `path` (see the module docstring)."""
    rel = "" if path in ("", ".") else path.strip("/")
    top = root / rel if rel else root
    where = rel or "."
    if not top.is_dir():
        problem = "is not a directory" if top.exists() else "does not exist"
        raise RenderError([f"{where}: path {problem} in this commit"])
    if any((top / name).is_file() for name in KUSTOMIZATION_FILES):
        return await _kustomize(root, rel, kubectl, timeout)
    return await asyncio.to_thread(_render_files, root, top)


def _render_files(root: Path, top: Path) -> list[Document]:
    """The documents of every YAML file under `top` (blocking)."""
    docs: list[Document] = []
    errors: list[str] = []
    for file in _yaml_files(top):
        name = file.relative_to(root).as_posix()
        if file.stat().st_size > MAX_FILE_BYTES:
            errors.append(f"{name}:1: file larger than {MAX_FILE_BYTES >> 20} MiB")
            continue
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            errors.append(f"{name}:1: not UTF-8 text")
            continue
        try:
            docs.extend(parse_documents(text, name))
        except RenderError as exc:
            errors.extend(exc.messages)
    if errors:
        raise RenderError(errors)
    return docs


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def line_of(doc: Document, field_path: str) -> int:
    """The line of the deepest part of `field_path` (e.g. `spec.valuesFrom[0].name`) present in the
    document; the document's first line when nothing of it is."""
    node, line = doc.node, doc.line
    for m in _PATH_PART.finditer(field_path):
        key, index = m.group(1), m.group(2)
        if isinstance(node, yaml.MappingNode) and key is not None:
            found = next(((k, v) for k, v in node.value if getattr(k, "value", None) == key), None)
            if found is None:
                break
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, yaml.SequenceNode) and index is not None and int(index) < len(node.value):
            node = node.value[int(index)]
            line = node.start_mark.line + 1
        else:
            break
    return line
