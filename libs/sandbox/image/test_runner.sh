#!/usr/bin/env bash
# Builds (or reuses) the sandbox image and runs the end-to-end runner tests in it.
#   bash libs/sandbox/image/test_runner.sh [--bench]
# Needs: root (for the debootstrap build on first run), docker, python3 on the host.
set -euo pipefail
cd "$(dirname "$0")/../../.."
t0=$(date +%s)
TAG=$(npx tsx tools/sandbox-image.ts)
echo "image: $TAG (ensured in $(( $(date +%s) - t0 ))s, size $(docker image inspect --format '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))" >&2
exec python3 libs/sandbox/image/test_runner.py --image "$TAG" "$@"
