#!/bin/bash
# RABBITMQ_DEFAULT_USER / _PASS / _VHOST become the broker's default user (created on the first
# start of an empty data directory, as with the official image); the server runs as rabbitmq.
set -euo pipefail
if [ "$1" = "rabbitmq-server" ]; then
  {
    [ -n "${RABBITMQ_DEFAULT_USER:-}" ] && printf 'default_user = %s\n' "$RABBITMQ_DEFAULT_USER"
    [ -n "${RABBITMQ_DEFAULT_PASS:-}" ] && printf 'default_pass = %s\n' "$RABBITMQ_DEFAULT_PASS"
    [ -n "${RABBITMQ_DEFAULT_VHOST:-}" ] && printf 'default_vhost = %s\n' "$RABBITMQ_DEFAULT_VHOST"
    true
  } > /etc/rabbitmq/conf.d/20-default-user.conf
  if [ "$(id -u)" = "0" ]; then
    chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /etc/rabbitmq/conf.d
    exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$@"
  fi
fi
exec "$@"
