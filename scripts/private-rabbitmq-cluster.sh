#!/usr/bin/env bash
# A PRIVATE three-node RabbitMQ cluster (Debian's rabbitmq-server, AMQP 1.0 plugin on) for broker-HA
# tests: killing its nodes never touches the machine's broker on 5672. Each node is a private node
# of scripts/private-rabbitmq.sh with the name cl<port>@<short hostname> and its files in
# /tmp/private-rabbitmq-cluster-<port>; the first port's node is the one the others join.
#
# usage: scripts/private-rabbitmq-cluster.sh <command> [args]
#   start            start every node, join them into one cluster, create the vhost (default queue
#                    type quorum), grant guest on it, set the expiry policy on it; reuses the data
#                    of an earlier start (about 35 s from nothing, a few seconds when all run)
#   kill PORT        kill -9 of one node's Erlang VM (a crash; its data is kept)
#   start-node PORT  start one node again (it rejoins the cluster with its data)
#   urls             the AMQP URLs of every node, comma-separated (the gateway's AMQP_URL)
#   leader QUEUE     the AMQP port of the node that leads the quorum queue QUEUE
#   running          the AMQP ports of the nodes the cluster sees running, one a line
#   ctl ARGS         rabbitmqctl ARGS on the first node that answers
#   destroy          kill every node and delete its data
#
# Ports (AMQP; distribution port = AMQP + 20000): $PRIVATE_RABBITMQ_CLUSTER_PORTS (comma- or
# space-separated, default "5720,5721,5722"). Vhost: $PRIVATE_RABBITMQ_CLUSTER_VHOST (default
# gateway). Idle gateway node queues and broadcast queues expire after
# $PRIVATE_RABBITMQ_EXPIRES_MS (default 60000) ms. Must run as root, like scripts/private-rabbitmq.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
read -r -a ports <<<"$(echo "${PRIVATE_RABBITMQ_CLUSTER_PORTS:-5720,5721,5722}" | tr ',' ' ')"
for p in "${ports[@]}"; do
  case "$p" in '' | *[!0-9]*) echo "private-rabbitmq-cluster: bad port '$p'" >&2; exit 2 ;; esac
done
vhost="${PRIVATE_RABBITMQ_CLUSTER_VHOST:-gateway}"
expires="${PRIVATE_RABBITMQ_EXPIRES_MS:-60000}"
short=$(hostname -s)

log() { echo "[private-rabbitmq-cluster] $*" >&2; }
name_of() { echo "cl$1@$short"; }
known_port() {
  local p
  for p in "${ports[@]}"; do [ "$p" = "$1" ] && return 0; done
  log "port $1 is not one of ${ports[*]}"
  exit 2
}

# One node through the single-node script, under the cluster's names and with its settings.
node() {
  local command=$1 port=$2
  PRIVATE_RABBITMQ_NAME=cl PRIVATE_RABBITMQ_BASE="/tmp/private-rabbitmq-cluster-$port" \
    PRIVATE_RABBITMQ_EXTRA_CONF='cluster_partition_handling = pause_minority' \
    PRIVATE_RABBITMQ_EXPIRES_MS="$expires" "$here/private-rabbitmq.sh" "$command" "$port"
}
nctl() {
  local port=$1
  shift
  rabbitmqctl -q -n "$(name_of "$port")" "$@"
}

# rabbitmqctl on the first node that answers.
ctl_any() {
  local p
  for p in "${ports[@]}"; do
    if nctl "$p" status >/dev/null 2>&1; then
      nctl "$p" "$@"
      return
    fi
  done
  log "no node answers"
  return 1
}

members_of() { nctl "$1" cluster_status --formatter json 2>/dev/null | tr -d ' \n'; }

start() {
  local seed=${ports[0]} p pid failed=0
  local -a pids=()
  # In parallel: a node restarted from its data waits for the peers it last saw running.
  for p in "${ports[@]}"; do
    node start "$p" &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  [ "$failed" = 0 ] || { log "a node did not start (see /tmp/private-rabbitmq-cluster-<port>/log)"; exit 1; }
  for p in "${ports[@]:1}"; do
    if ! members_of "$seed" | grep -q "\"disk_nodes\":\[[^]]*\"$(name_of "$p")\""; then
      # rabbitmqctl prints the joining node's feature-flag warnings on stderr: shown only on failure.
      local out
      if ! out=$({ nctl "$p" stop_app && nctl "$p" reset && nctl "$p" join_cluster "$(name_of "$seed")" &&
        nctl "$p" start_app; } 2>&1); then
        log "node $p could not join $(name_of "$seed"): $out"
        exit 1
      fi
    fi
  done
  if ! nctl "$seed" list_vhosts --no-table-headers | grep -qx "$vhost"; then
    nctl "$seed" add_vhost "$vhost" --default-queue-type quorum >/dev/null
  fi
  nctl "$seed" set_permissions -p "$vhost" guest '.*' '.*' '.*' >/dev/null
  # The policies of scripts/private-rabbitmq.sh (README "RabbitMQ set-up"), on the cluster's vhost.
  nctl "$seed" set_policy -p "$vhost" gateway-queues '^gateway\.' "{\"expires\":$expires}" \
    --apply-to queues --priority 1 >/dev/null
  nctl "$seed" set_operator_policy -p "$vhost" gateway-broadcast-expiry '^amq\.gen-' \
    "{\"expires\":$expires}" --apply-to queues >/dev/null
}

urls() {
  local out='' p
  for p in "${ports[@]}"; do out="$out${out:+,}amqp://guest:guest@127.0.0.1:$p/$vhost"; done
  echo "$out"
}

port_of_name() {
  local p
  for p in "${ports[@]}"; do
    if [ "$(name_of "$p")" = "$1" ]; then
      echo "$p"
      return
    fi
  done
  return 1
}

leader() {
  local name
  name=$(ctl_any list_queues -p "$vhost" name leader --no-table-headers | awk -v q="$1" '$1 == q { print $2 }')
  [ -n "$name" ] || { log "no quorum queue '$1' in vhost $vhost"; return 1; }
  port_of_name "$name"
}

running() {
  local p
  for p in "${ports[@]}"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; fi
  done
}

cmd="${1:-}"
case "$cmd" in
  start) start ;;
  kill)
    known_port "${2:-}"
    node kill "$2"
    ;;
  start-node)
    known_port "${2:-}"
    node start "$2"
    ;;
  urls) urls ;;
  leader) leader "${2:?queue name}" ;;
  running) running ;;
  ctl)
    shift
    ctl_any "$@"
    ;;
  destroy)
    for p in "${ports[@]}"; do node kill "$p" || true; done
    for p in "${ports[@]}"; do rm -rf "/tmp/private-rabbitmq-cluster-$p"; done
    ;;
  *)
    sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
