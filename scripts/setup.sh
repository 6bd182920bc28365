#!/usr/bin/env bash
# Prepares a Debian 12 machine for building and running Metrika gateway (and, with --for-tests, testing it):
# installs the missing Debian packages and starts a local RabbitMQ when none answers.
# Idempotent; safe to run on every start. Needs root (or sudo) only when something is missing.
set -euo pipefail

# What building and running the gateway needs.
packages=(rabbitmq-server librabbitmq-dev libsqlite3-dev libmicrohttpd-dev sqlite3 amqp-tools tzdata ca-certificates curl)
# What the tests need besides: schema validation, the fault-injection suite, the browser test.
if [ "${1:-}" = "--for-tests" ]; then
  packages+=(python3 python3-jsonschema python3-yaml python3-pika chromium openssl)
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

broker_answers() {
  # A TCP connect to the AMQP port is enough to know a broker listens.
  timeout 2 bash -c '</dev/tcp/127.0.0.1/5672' 2>/dev/null
}

if ! broker_answers; then
  echo "setup: starting the local RabbitMQ" >&2
  if ! as_root service rabbitmq-server start >/dev/null 2>&1; then
    as_root rabbitmq-server -detached >/dev/null 2>&1 || true
  fi
  for _ in $(seq 1 90); do
    broker_answers && break
    sleep 1
  done
  if ! broker_answers; then
    echo "setup: RabbitMQ did not start on 127.0.0.1:5672; see /var/log/rabbitmq/" >&2
    exit 1
  fi
  as_root rabbitmqctl await_startup >/dev/null 2>&1 || true
fi
echo "setup: RabbitMQ answers on 127.0.0.1:5672" >&2
