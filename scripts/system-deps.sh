#!/usr/bin/env bash
# Make sure the Debian programs a chore needs are present; each make target names its own:
#   cairo      libcairo2, which paints the PNG badges (through cairocffi) (make run, tests, make bench)
#   redis      redis-server (tests, make loadtest)
#   wrk        the HTTP load generator (tests, make bench)
#   chromium   headless browser (browser tests, make docs-images)
#   postgres   initdb and postgres for throwaway clusters (tests)
#   varnish    Varnish with the xkey vmod: the edge (deployment test, make bench)
#   nginx      the static-file baseline of the edge bench (make bench)
#   prometheus Prometheus and promtool: the dashboard's queries and the alert rules (tests)
#   container  docker, or podman set up by the shared `oci` tool where no registry is
#              reachable (the image test, make image)
# The ownership tests need no Debian package: their DNS server is dnslib's (PyPI, the `test`
# extra) and their HTTPS server is Python's http.server with a CA made by `cryptography`,
# both started by the tests (tests/proofservers.py).
# With no argument it checks all of them. Where the major version matters (Redis, PostgreSQL,
# Varnish and its vmods), a version outside the tested range stops here with a clear message
# rather than failing later in a test.
set -euo pipefail
[ $# -gt 0 ] || set -- cairo redis wrk chromium postgres varnish nginx prometheus container
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
    # Debian's package brings promtool too; the tests run their own server on loopback.
    prometheus) { command -v prometheus && command -v promtool; } >/dev/null || need+=(prometheus) ;;
    container) container=yes ;;
    *)
        echo "system-deps.sh: unknown need '$what'" \
            "(cairo, redis, wrk, chromium, postgres, varnish, nginx, prometheus, container)" >&2
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
# supported NAME VERSION MIN_MAJOR MAX_MAJOR WHY: fail unless MIN <= major(VERSION) <= MAX.
supported() {
    local major=${2%%.*}
    if ! [[ $major =~ ^[0-9]+$ ]] || ((major < $3 || major > $4)); then
        echo "system-deps.sh: $1 $2 is not supported: the project is tested with major" \
            "versions $3 to $4 ($5)" >&2
        exit 1
    fi
}
for what in "$@"; do
    case "$what" in
    redis)
        version=$(redis-server --version | sed -n 's/.* v=\([0-9.]*\).*/\1/p')
        supported redis-server "$version" 6 7 "pub/sub, CLIENT and the RESP2 replies the bus reads"
        ;;
    postgres)
        for initdb in /usr/lib/postgresql/*/bin/initdb; do
            version=$("$initdb" --version | sed -n 's/.*) \([0-9.]*\).*/\1/p')
            supported PostgreSQL "$version" 13 17 "the registry's SQL and the throwaway test clusters"
        done
        ;;
    varnish)
        version=$(/usr/sbin/varnishd -V 2>&1 | sed -n 's/.*varnish-\([0-9.]*\).*/\1/p' | head -1)
        supported Varnish "$version" 7 7 "deploy/varnish's VCL 4.1 and the xkey vmod built for it"
        # varnish-modules is built against one Varnish ABI; a mismatch fails at VCL load.
        vmod=$(compgen -G '/usr/lib/*/varnish/vmods/libvmod_xkey.so' | head -1)
        probe=$(mktemp -d)
        chmod 755 "$probe" # varnishd reads the file as its own unprivileged user
        printf 'vcl 4.1;\nimport xkey;\nbackend b none;\n' >"$probe/probe.vcl"
        if ! /usr/sbin/varnishd -C -n "$probe" -f "$probe/probe.vcl" >/dev/null 2>&1; then
            rm -rf "$probe"
            echo "system-deps.sh: the xkey vmod ($vmod) does not load in Varnish $version;" \
                "install the varnish-modules built for it" >&2
            exit 1
        fi
        rm -rf "$probe"
        ;;
    esac
done
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
