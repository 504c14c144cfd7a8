#!/usr/bin/env bash
# A PRIVATE RabbitMQ node (Debian's rabbitmq-server package, AMQP 1.0 plugin on) for fault tests:
# stopping, crashing and restarting it never touches the machine's broker on 5672.
#
# usage: scripts/private-rabbitmq.sh <command> [port]
#   start      start the node (reuses its data folder, so durable queues survive kill + start); waits
#              until AMQP answers and applies the expiry policy; prints nothing but errors
#   stop       graceful stop of the whole node (data kept)
#   kill       kill -9 of the node's Erlang VM (a crash; data kept)
#   stop_app   rabbitmqctl stop_app (the VM stays up, AMQP goes away)
#   start_app  rabbitmqctl start_app, then waits until AMQP answers again
#   url        prints amqp://guest:guest@127.0.0.1:<port>
#   status     exit 0 when the node answers rabbitmqctl, 1 otherwise
#   ctl ARGS   runs rabbitmqctl -n <node> ARGS (e.g. `ctl list_queues name messages`); the port
#              comes from $PRIVATE_RABBITMQ_PORT here
#   destroy    stop (or kill) the node and delete its data folder
#
# port: the AMQP port, default $PRIVATE_RABBITMQ_PORT or 5690. The distribution port is port+20000,
# the node name test<port>@<short hostname>, its files live in /tmp/private-rabbitmq-<port>
# ($PRIVATE_RABBITMQ_NAME replaces "test" and $PRIVATE_RABBITMQ_BASE the folder; lines in
# $PRIVATE_RABBITMQ_EXTRA_CONF are added to rabbitmq.conf: scripts/private-rabbitmq-cluster.sh uses them).
# Must run as root (the node itself runs as user rabbitmq, like the system broker). The policy
# `gateway-queues` (and the operator policy `gateway-broadcast-expiry`) let idle gateway.* and amq.gen-* queues expire after
# $PRIVATE_RABBITMQ_EXPIRES_MS (default 60000) ms.
set -euo pipefail

cmd="${1:-}"
port="${PRIVATE_RABBITMQ_PORT:-5690}"
if [ "$cmd" != ctl ] && [ -n "${2:-}" ]; then port=$2; fi
case "$port" in '' | *[!0-9]*) echo "private-rabbitmq: bad port '$port'" >&2; exit 2 ;; esac
dist_port=$((port + 20000))
node="${PRIVATE_RABBITMQ_NAME:-test}${port}@$(hostname -s)"
base="${PRIVATE_RABBITMQ_BASE:-/tmp/private-rabbitmq-${port}}"
pidfile="$base/node.pid"
expires="${PRIVATE_RABBITMQ_EXPIRES_MS:-60000}"

log() { echo "[private-rabbitmq:$port] $*" >&2; }

ctl() { rabbitmqctl -q -n "$node" "$@"; }

amqp_up() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

# Polls a condition (a shell function) every 0.2 s until it holds or the deadline (seconds) passes.
wait_for() {
  local what=$1 deadline=$(($(date +%s) + $2))
  until "$what"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then return 1; fi
    sleep 0.2
  done
}

node_up() { ctl status >/dev/null 2>&1; }
amqp_down() { ! amqp_up; }

vm_pid() { [ -s "$pidfile" ] && cat "$pidfile"; }
vm_alive() {
  local pid
  pid=$(vm_pid) || return 1
  kill -0 "$pid" 2>/dev/null
}
vm_gone() { ! vm_alive; }

start() {
  if ! (vm_alive && node_up); then
    launch
  elif ! amqp_up; then
    ctl start_app >/dev/null # left stopped by stop_app
  fi
  wait_for amqp_up 60 || { log "AMQP not answering on $port"; exit 1; }
  # Idle gateway node queues and server-named broadcast queues expire (README, "RabbitMQ set-up").
  ctl set_policy gateway-queues '^gateway\.' "{\"expires\":$expires}" \
    --apply-to queues --priority 1 >/dev/null
  ctl set_operator_policy gateway-broadcast-expiry '^amq\.gen-' "{\"expires\":$expires}" \
    --apply-to queues >/dev/null
}

launch() {
  mkdir -p "$base/mnesia" "$base/log"
  echo '[rabbitmq_amqp1_0].' >"$base/enabled_plugins"
  # amqp1_0.default_user = none: a connection without credentials is refused (not mapped to guest).
  printf '%s\n' 'amqp1_0.default_user = none' 'loopback_users.guest = true' ${PRIVATE_RABBITMQ_EXTRA_CONF:+"$PRIVATE_RABBITMQ_EXTRA_CONF"} >"$base/rabbitmq.conf"
  rm -f "$pidfile"
  chown -R rabbitmq:rabbitmq "$base"
  (
    cd "$base"
    su rabbitmq -s /bin/sh -c "env \
      RABBITMQ_NODENAME='$node' \
      RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
      RABBITMQ_NODE_PORT='$port' \
      RABBITMQ_DIST_PORT='$dist_port' \
      RABBITMQ_MNESIA_BASE='$base/mnesia' \
      RABBITMQ_LOG_BASE='$base/log' \
      RABBITMQ_ENABLED_PLUGINS_FILE='$base/enabled_plugins' \
      RABBITMQ_PID_FILE='$pidfile' \
      RABBITMQ_CONFIG_FILE='$base/rabbitmq.conf' \
      /usr/lib/rabbitmq/bin/rabbitmq-server -detached" >/dev/null 2>&1
  )
  # await_startup fails at once right after -detached: wait on the pid file, then on the node.
  wait_for vm_alive 30 || { log "node did not write its pid file (see $base/log)"; exit 1; }
  ctl wait --timeout 60 "$pidfile" >/dev/null || { log "node did not start (see $base/log)"; exit 1; }
}

stop() {
  if vm_alive; then
    ctl stop >/dev/null 2>&1 || kill -9 "$(vm_pid)" 2>/dev/null || true
    wait_for vm_gone 30 || { log "node did not stop"; exit 1; }
  fi
  rm -f "$pidfile"
}

crash() {
  local pid
  if pid=$(vm_pid) && kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid"
    wait_for vm_gone 10 || { log "node survived kill -9"; exit 1; }
  fi
  # the crashed VM leaves its pid file behind: remove it, so that start waits for the new VM.
  rm -f "$pidfile"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  kill) crash ;;
  stop_app)
    ctl stop_app >/dev/null
    wait_for amqp_down 30 || { log "AMQP still answering after stop_app"; exit 1; }
    ;;
  start_app)
    ctl start_app >/dev/null
    wait_for amqp_up 60 || { log "AMQP not answering after start_app"; exit 1; }
    ;;
  url) echo "amqp://guest:guest@127.0.0.1:$port" ;;
  status) node_up ;;
  ctl)
    shift
    ctl "$@"
    ;;
  destroy)
    stop || crash
    rm -rf "$base"
    ;;
  *)
    sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
