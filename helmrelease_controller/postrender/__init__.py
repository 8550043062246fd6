"""Post-rendering (Flux's `spec.postRenderers` and `spec.commonMetadata`; docs/post-renderers.md).

Helm renders the chart, hands every manifest to a post-renderer on stdin and applies what comes
back on stdout. Ours is this package run as a program (`python -m helmrelease_controller.postrender`,
`__main__.py`): it runs the real `kubectl kustomize` once per `postRenderers` item and once more
for `commonMetadata`, each over the previous one's output, as Flux's helm-controller chains its
renderers. The modules:

- `spec.py`: `PostRender`, what a HelmRelease asks (from the spec, to and from the JSON file the
  program reads), and the part of it the config digest covers. Pure.
- `kustomization.py`: the kustomization directory of each run, and kustomize's error as one line.
  Pure.
- `__main__.py`: the program (the only I/O here: files in a private temp dir, kubectl processes).

How helm finds the program (helm 3: an executable; helm 4: a plugin) is `helm/postrender.py`.
"""

from .spec import PostRender

__all__ = ["PostRender"]
