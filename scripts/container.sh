#!/usr/bin/env bash
# Run a container command with whatever this machine has: a working docker, else the shared
# `oci` tool (podman with local base images, on machines without a registry), else podman.
#   scripts/container.sh which            print the tool that would be used (or fail)
#   scripts/container.sh build -t T .      build ./Dockerfile
#   scripts/container.sh ARGS...           any other docker/podman command
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
oci=${BADGE_OCI:-$root/../shared/container/oci}
# A clone elsewhere on these machines still finds the shared tool.
[ -x "$oci" ] || [ ! -x /work/shared/container/oci ] || oci=/work/shared/container/oci
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    tool=(docker)
elif [ -x "$oci" ]; then
    tool=("$oci")
elif command -v podman >/dev/null; then
    tool=(podman)
else
    echo "no container tool: install docker or podman" >&2
    exit 1
fi
if [ "${1:-}" = which ]; then
    echo "${tool[*]}"
    exit 0
fi
if [ "${1:-}" = build ] && [ "${tool[0]}" = "$oci" ]; then
    # The Dockerfile pins its base image by digest, which only a registry can serve; the
    # shared tool's local stand-in answers to the tag alone.
    shift
    exec "${tool[@]}" build --build-arg PYTHON_IMAGE=python:3.12-slim "$@"
fi
exec "${tool[@]}" "$@"
