#!/usr/bin/env bash
# What the image builder needs from Debian: mmdebstrap (root file systems from packages), dpkg-deb, GNU tar and gzip.
set -euo pipefail
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v mmdebstrap >/dev/null; then
  echo "image: installing mmdebstrap (apt)" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
fi
