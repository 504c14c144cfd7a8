#!/usr/bin/env bash
# Makes sure a RabbitMQ 3.x broker with AMQP 1.0 answers on 127.0.0.1:5672:
# installs Debian's package when missing, enables rabbitmq_amqp1_0, starts the
# node when it is not running, waits until it is up, and applies the policy
# that lets node and broadcast queues expire once their gateway node is gone.
# Idempotent: safe to run on a machine where all of this is already done.
set -euo pipefail

log() { echo "[ensure-rabbitmq] $*"; }

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  log "installing rabbitmq-server (Debian package)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
fi

node_up() { rabbitmqctl status >/dev/null 2>&1; }

if ! node_up; then
  log "starting rabbitmq-server"
  rabbitmq-plugins enable --offline rabbitmq_amqp1_0 >/dev/null
  rabbitmq-server -detached
  # await_startup fails at once right after -detached (AMQP-NOTES.md): poll instead.
  for _ in $(seq 1 90); do
    node_up && break
    sleep 1
  done
  node_up || { log "RabbitMQ did not start within 90 s"; exit 1; }
fi

rabbitmq-plugins enable rabbitmq_amqp1_0 >/dev/null
rabbitmqctl await_startup --timeout 60 >/dev/null

# Wait for the AMQP listener itself (the plugin may take a moment after enable).
for _ in $(seq 1 60); do
  if (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then break; fi
  sleep 1
done
(exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null || { log "nothing listens on 127.0.0.1:5672"; exit 1; }

# Queues behind /exchange and /topic receivers, and node queues, are never deleted by
# RabbitMQ when their consumer goes: let idle ones expire (see the README, "RabbitMQ set-up").
rabbitmqctl set_policy gateway-expiry '^(gateway\.node\.|amq\.gen-)' '{"expires":60000}' \
  --apply-to queues --priority 0 >/dev/null
log "RabbitMQ is up with AMQP 1.0 on 127.0.0.1:5672"
