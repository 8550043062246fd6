#!/bin/sh
# The controller image's base layer, run as root in python:3.11-slim (Debian bookworm): by deploy/Dockerfile
# (RUN) and by hack/rootfs.py (in a chroot), so the image test checks exactly what the image gets.
#   1. the Debian packages listed in deploy/image-packages.txt (next to this script);
#   2. a passwd/group entry for uid/gid 65532, the user the controller runs as: ssh refuses to
#      start ("No user exists for uid 65532") without one, which breaks ssh git sources.
set -eu
here=$(dirname "$0")
packages=$(sed -e 's/#.*//' "$here/image-packages.txt" | tr -s ' \t\n' ' ')
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # one word per package
apt-get install -y -qq --no-install-recommends $packages >/dev/null
rm -rf /var/lib/apt/lists/*
echo 'helmrelease:x:65532:' >> /etc/group
echo 'helmrelease:x:65532:65532:helmrelease-controller:/tmp:/usr/sbin/nologin' >> /etc/passwd
