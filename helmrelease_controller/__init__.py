"""helmrelease-controller: a Kubernetes operator turning HelmRelease objects into Helm releases."""

__version__ = "0.1.0"
