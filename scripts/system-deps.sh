#!/usr/bin/env bash
# Make sure the Debian programs the tests and benchmarks use are present.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v wrk >/dev/null || need+=(wrk)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
# Tests run their own throwaway cluster with initdb, which Debian keeps off PATH.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
# The edge: the deployment test and `make bench` run Varnish with xkey, and nginx as the
# bench's static-file baseline. Debian keeps varnishd and nginx in /usr/sbin.
[ -x /usr/sbin/varnishd ] || need+=(varnish)
compgen -G '/usr/lib/*/varnish/vmods/libvmod_xkey.so' >/dev/null || need+=(varnish-modules)
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
# The image test builds and runs the Dockerfile: a working docker, or podman. Where no registry
# is reachable, the shared `oci` tool sets podman up with local base images.
root=$(cd "$(dirname "$0")/.." && pwd)
oci=${BADGE_OCI:-$root/../shared/container/oci}
# A clone elsewhere on these machines still finds the shared tool.
[ -x "$oci" ] || [ ! -x /work/shared/container/oci ] || oci=/work/shared/container/oci
container_setup=()
if ! { command -v docker >/dev/null && docker info >/dev/null 2>&1; }; then
    if [ -x "$oci" ]; then
        container_setup=("$oci" setup)  # idempotent: seconds once done
    elif ! command -v podman >/dev/null; then
        need+=(podman)
    fi
fi
if [ ${#container_setup[@]} -gt 0 ]; then
    # About a minute on a fresh machine: podman from Debian, base images built locally.
    "${container_setup[@]}" >/dev/null
fi
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "missing: ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
    exit 1
fi
echo "installing ${need[*]} from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Debian starts the services it installs, the system PostgreSQL cluster among them; the tests
# need none of them running. A policy-rc.d that answers 101 stops that, unless one is in place.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
