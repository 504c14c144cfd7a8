#!/usr/bin/env bash
# Makes sure a RabbitMQ 3.x broker with AMQP 1.0 answers on 127.0.0.1:5672:
# installs Debian's package when missing, enables rabbitmq_amqp1_0, starts the
# node when it is not running, waits until it is up, and applies the policies
# that let node and broadcast queues expire once their gateway node is gone.
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
  # await_startup fails at once right after -detached (docs/RABBITMQ.md, "Running a broker for tests"): poll instead.
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

# RabbitMQ never deletes node queues, nor the queues behind /exchange and /topic receivers, when
# their consumer goes: let idle ones expire (README, "RabbitMQ set-up").
# 1. Every queue the gateway names starts with GATEWAY_QUEUE_PREFIX (default `gateway.`): this
#    policy matches those and no other application's queue.
rabbitmqctl set_policy gateway-queues '^gateway\.' '{"expires":60000}' \
  --apply-to queues --priority 1 >/dev/null
# 2. Broadcast queues are named by the broker (amq.gen-*; AMQP 1.0 on RabbitMQ 3.x cannot name
#    them). An operator policy is merged with other applications' policies instead of displacing
#    them (a stricter value of theirs wins); it still expires their idle amq.gen-* queues, which is
#    why production runs the gateway on a vhost of its own (README).
rabbitmqctl set_operator_policy gateway-broadcast-expiry '^amq\.gen-' '{"expires":60000}' \
  --apply-to queues >/dev/null
# The policy of earlier versions, gateway-expiry, is left alone where it exists: delete it
# (rabbitmqctl clear_policy gateway-expiry) once every node runs this version (docs/OPERATIONS.md).
log "RabbitMQ is up with AMQP 1.0 on 127.0.0.1:5672"
