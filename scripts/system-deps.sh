#!/usr/bin/env bash
# Make sure the Debian programs a chore needs are present; each make target names its own:
#   cairo      libcairo2, which paints the PNG badges (through cairocffi) (make run, tests, make bench)
#   redis      redis-server (tests, make loadtest)
#   wrk        the HTTP load generator (tests, make bench)
#   chromium   headless browser (browser tests, make docs-images)
#   postgres   initdb and postgres for throwaway clusters (tests)
#   varnish    Varnish with the xkey vmod: the edge (deployment test, make bench)
#   nginx      the static-file baseline of the edge bench (make bench)
#   container  docker, or podman set up by the shared `oci` tool where no registry is
#              reachable (the image test, make image)
# The ownership tests need no Debian package: their DNS server is dnslib's (PyPI, the `test`
# extra) and their HTTPS server is Python's http.server with a CA made by `cryptography`,
# both started by the tests (tests/proofservers.py).
# With no argument it checks all of them.
set -euo pipefail
[ $# -gt 0 ] || set -- cairo redis wrk chromium postgres varnish nginx container
need=()
container=no
for what in "$@"; do
    case "$what" in
    cairo)
        python3 -c 'import ctypes.util, sys; sys.exit(not ctypes.util.find_library("cairo"))' ||
            need+=(libcairo2)
        ;;
    redis) command -v redis-server >/dev/null || need+=(redis-server) ;;
    wrk) command -v wrk >/dev/null || need+=(wrk) ;;
    chromium) command -v chromium >/dev/null || need+=(chromium) ;;
    # Tests run their own throwaway cluster with initdb, which Debian keeps off PATH.
    postgres) compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql) ;;
    # Debian keeps varnishd and nginx in /usr/sbin.
    varnish)
        [ -x /usr/sbin/varnishd ] || need+=(varnish)
        compgen -G '/usr/lib/*/varnish/vmods/libvmod_xkey.so' >/dev/null || need+=(varnish-modules)
        ;;
    nginx) [ -x /usr/sbin/nginx ] || need+=(nginx-light) ;;
    container) container=yes ;;
    *)
        echo "system-deps.sh: unknown need '$what'" \
            "(cairo, redis, wrk, chromium, postgres, varnish, nginx, container)" >&2
        exit 2
        ;;
    esac
done
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "missing: ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
        exit 1
    fi
    echo "installing ${need[*]} from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Debian starts the services it installs, the system PostgreSQL cluster among them; the
    # tests need none of them running. A policy-rc.d that answers 101 stops that, unless one
    # is in place.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ "$container" = yes ] && ! { command -v docker >/dev/null && docker info >/dev/null 2>&1; }; then
    # Where no registry is reachable, the shared `oci` tool sets podman up with local base
    # images (about a minute on a fresh machine, idempotent after). A clone elsewhere on these
    # machines still finds it; BADGE_OCI overrides the path.
    root=$(cd "$(dirname "$0")/.." && pwd)
    oci=${BADGE_OCI:-$root/../shared/container/oci}
    [ -x "$oci" ] || [ ! -x /work/shared/container/oci ] || oci=/work/shared/container/oci
    if [ -x "$oci" ]; then
        "$oci" setup >/dev/null
    elif ! command -v podman >/dev/null; then
        if [ "$(id -u)" != 0 ]; then
            echo "missing: docker or podman (apt-get install podman)" >&2
            exit 1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman >/dev/null
    fi
fi
