#!/bin/bash
# What the official image's docker-entrypoint.sh does: `redis-server ARGS` (or bare `--options`)
# runs as the redis user, without a config file, with protected mode off (the official build
# turns it off by default: the container network is the boundary, a password the lock).
set -euo pipefail
if [ "${1:0:1}" = "-" ]; then set -- redis-server "$@"; fi
if [ "$1" = "redis-server" ]; then
  shift
  if [ "$#" -eq 0 ] || [ "${1:0:1}" = "-" ]; then set -- --protected-mode no "$@"; fi
  if [ "$(id -u)" = "0" ]; then
    chown -R redis:redis /data 2>/dev/null || true
    exec setpriv --reuid=redis --regid=redis --init-groups redis-server "$@"
  fi
  exec redis-server "$@"
fi
exec "$@"
