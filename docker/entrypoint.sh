#!/bin/sh
# Container entrypoint of the CRM calendar bridge.
#
#   bridge-entrypoint [serve|worker|migrate|health] [extra arguments]
#   bridge-entrypoint <any other bridge command ...>      e.g. `status`, `sync alice`
#
# The role is BRIDGE_ROLE when set, else the first argument (default serve); a first
# argument that is no role is a bridge command, run as given (`status --config ...`).
# serve, worker and migrate first wait up to BRIDGE_DB_WAIT_SECONDS (default 60) for the
# database. Only `migrate` changes the schema (`bridge db upgrade`); serve and worker wait
# until the schema is at the revision they need, so they never race to upgrade it.
# BRIDGE_CONFIG: the configuration file (default /etc/bridge/bridge.toml).
# BRIDGE_METRICS_LISTEN: a worker's /metrics address (HOST:PORT, or "off"), given to
# `bridge worker --metrics-listen`; unset: [worker] metrics_listen of the file.
set -eu

CONFIG="${BRIDGE_CONFIG:-/etc/bridge/bridge.toml}"
WAIT="${BRIDGE_DB_WAIT_SECONDS:-60}"

case "${1:-}" in
    serve|worker|migrate) ROLE="${BRIDGE_ROLE:-$1}"; shift ;;
    health) ROLE=health; shift ;;
    "") ROLE="${BRIDGE_ROLE:-serve}" ;;
    *) ROLE=command ;;  # any other bridge command, whatever this container's role
esac

say() { printf 'bridge-entrypoint: %s\n' "$*" >&2; }

case "$ROLE" in
    health)
        # A health check: the role of this container (BRIDGE_ROLE) decides what is asked.
        if [ "${BRIDGE_ROLE:-serve}" = serve ]; then
            url="${BRIDGE_READY_URL:-http://127.0.0.1:5233/ready}"
            exec python -c 'import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=5).read()
except Exception as error:
    sys.exit(f"not ready: {error}")' "$url"
        fi
        exec bridge db wait --config "$CONFIG" --head --timeout 0
        ;;
    migrate)
        say "waiting for the database"
        bridge db wait --config "$CONFIG" --timeout "$WAIT"
        say "upgrading the schema"
        exec bridge db upgrade --config "$CONFIG" "$@"
        ;;
    serve|worker)
        say "waiting for the database and its schema (the migrate role upgrades it)"
        bridge db wait --config "$CONFIG" --head --timeout "$WAIT"
        if [ "$ROLE" = worker ] && [ -n "${BRIDGE_METRICS_LISTEN:-}" ]; then
            exec bridge worker --config "$CONFIG" --metrics-listen "$BRIDGE_METRICS_LISTEN" "$@"
        fi
        exec bridge "$ROLE" --config "$CONFIG" "$@"
        ;;
    command)
        exec bridge "$@"
        ;;
    *)
        say "unknown role '$ROLE' (BRIDGE_ROLE): use serve, worker, migrate or health"
        exit 64
        ;;
esac
