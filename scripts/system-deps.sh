#!/usr/bin/env bash
# Make sure the Debian programs a chore needs are present; each make target names its own:
#   cairo     libcairo2, which cairosvg draws PNG badges with (make run, tests, make bench)
#   redis     redis-server (tests, make loadtest)
#   wrk       the HTTP load generator (tests, make bench)
#   chromium  headless browser (browser tests, make docs-images)
#   postgres  initdb and postgres for throwaway clusters (tests)
# With no argument it checks all of them.
set -euo pipefail
[ $# -gt 0 ] || set -- cairo redis wrk chromium postgres
need=()
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
    *)
        echo "system-deps.sh: unknown need '$what' (cairo, redis, wrk, chromium, postgres)" >&2
        exit 2
        ;;
    esac
done
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
