#!/usr/bin/env bash
# What a stranger gets, checked as a stranger would (after `pnpm build`, with RabbitMQ on 5672):
#  1. packs message-schema, fastify-ci-bridge, fastify-ws-sessions and client and looks into the tarballs
#     (LICENSE, README, engines; no source maps, no src; no links a README cannot follow from npm);
#  2. installs the tarballs with npm into an empty ESM app outside the workspace (only known
#     EBADENGINE warnings allowed);
#  3. compiles each README's example and a consumer with tsc --strict, without skipLibCheck, then
#     once more with exactOptionalPropertyTypes;
#  4. runs each README's example against the real broker (on a vhost of its own, deleted after);
#  5. makes the gateway's deploy folder (scripts/deploy-gateway.mjs), moves it, runs it against the
#     broker until /readyz is 200, sends SIGTERM and expects exit code 0;
#  6. runs the client's README example against that gateway in embedded mode with resume on.
# Prints one PASS/FAIL line per check; exits 1 at the first failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
broker=${PACKAGE_CHECK_BROKER:-127.0.0.1:5672}
scratch=$(mktemp -d /tmp/gateway-package-check.XXXXXX)
vhost="package-check-${scratch##*.}"
amqp_url="amqp://guest:guest@${broker}/${vhost}"
pids=()

pass() { echo "PASS  $* [${SECONDS}s]"; }
fail() {
  echo "FAIL  $*"
  [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/      /' "$2" | tail -40
  exit 1
}
note() { echo "      $*"; }

cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rabbitmqctl -q delete_vhost "$vhost" >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

# wait_http URL SECONDS [STATUS]: until URL answers STATUS (default 200).
wait_http() {
  local deadline=$((SECONDS + $2))
  while [ "$SECONDS" -lt "$deadline" ]; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)" = "${3:-200}" ] && return 0
    sleep 0.2
  done
  return 1
}

# stop PID LOG WHAT: SIGTERM, then the exit code must be 0 within 20 s.
stop() {
  kill -TERM "$1"
  local status=0
  timeout 20 tail --pid="$1" -f /dev/null || fail "$3: still running 20 s after SIGTERM" "$2"
  wait "$1" || status=$?
  [ "$status" -eq 0 ] || fail "$3: exit code $status after SIGTERM (expected 0)" "$2"
}

echo "package check in $scratch (outside the workspace), broker vhost $vhost"
rabbitmqctl -q add_vhost "$vhost" >/dev/null
rabbitmqctl -q set_permissions -p "$vhost" guest '.*' '.*' '.*' >/dev/null

# ---- 1. pack -------------------------------------------------------------------------------------
mkdir -p "$scratch/tarballs"
for pkg in message-schema fastify-ci-bridge fastify-ws-sessions client; do
  (cd "$root/packages/$pkg" && pnpm pack --pack-destination "$scratch/tarballs" >/dev/null)
done
for tarball in "$scratch"/tarballs/*.tgz; do
  name=$(basename "$tarball")
  listing=$(tar -tzf "$tarball")
  for file in package/LICENSE package/README.md package/package.json package/dist/index.js package/dist/index.d.ts; do
    grep -qx "$file" <<<"$listing" || fail "$name: $file missing"
  done
  if grep -Eq '\.map$|^package/src/|^package/test/' <<<"$listing"; then fail "$name: ships source maps, src or tests"; fi
  manifest=$(tar -xzOf "$tarball" package/package.json)
  node -e '
    const m = JSON.parse(process.argv[1])
    const problems = []
    if (m.license !== "MIT") problems.push("license")
    if (!m.engines?.node) problems.push("engines.node")
    if (m.type !== "module") problems.push("type: module")
    for (const [dep, spec] of Object.entries(m.dependencies ?? {}))
      if (/^(workspace|file|link):/.test(spec)) problems.push(`dependency ${dep}: ${spec}`)
    if (problems.length) { console.error(problems.join(", ")); process.exit(1) }
  ' "$manifest" || fail "$name: package.json lacks or breaks the fields above"
  readme=$(tar -xzOf "$tarball" package/README.md)
  if grep -Eq '\]\(\.\./|\]\(\.\./\.\./' <<<"$readme"; then fail "$name: README links outside the package"; fi
  grep -q '"type": "module"' <<<"$readme" || fail "$name: README does not say the package needs \"type\": \"module\""
  grep -q 'npm install' <<<"$readme" || fail "$name: README has no install line"
  pass "$name: LICENSE, README (install line, ESM, no links outside the package), engines, no maps or sources ($(du -k "$tarball" | cut -f1) KiB)"
done

# ---- 2. install with npm into an empty app ---------------------------------------------------
app="$scratch/app"
mkdir -p "$app"
cat >"$app/package.json" <<'EOF'
{ "name": "stranger-app", "version": "1.0.0", "private": true, "type": "module" }
EOF
(cd "$app" && npm install --no-audit --no-fund --loglevel=warn \
  "$scratch"/tarballs/*.tgz fastify@5 ws@8 @types/ws@8 typescript@~5.9 @types/node@20 >"$scratch/npm.log" 2>&1) ||
  fail "npm install of the tarballs" "$scratch/npm.log"
# Known: cookie@2 (fastify -> light-my-request) declares node >= 22 and runs on Node 20 (README, "Node.js versions").
unexpected=$(grep -A3 EBADENGINE "$scratch/npm.log" | grep -Eo "package: '[^']+'" | grep -Ev "'cookie@2\." || true)
[ -z "$unexpected" ] || fail "npm install: unexpected EBADENGINE warnings: $unexpected" "$scratch/npm.log"
known=$(grep -A3 EBADENGINE "$scratch/npm.log" | grep -Eo "package: '[^']+'" | sort -u | tr '\n' ' ' || true)
pass "npm install of the four tarballs into an empty ESM app (node $(node --version)${known:+; known EBADENGINE: $known})"

# ---- 3. compile the examples and a consumer --------------------------------------------------
node "$root/scripts/package-check/extract-examples.mjs" "$app" \
  "$root/packages/message-schema/README.md" \
  "$root/packages/fastify-ci-bridge/README.md" \
  "$root/packages/fastify-ws-sessions/README.md" \
  "$root/packages/client/README.md" >"$scratch/examples.txt" ||
  fail "README examples not found"
cp "$root/scripts/package-check/consumer.ts" "$root/scripts/package-check/tsconfig.json" "$app/"
(cd "$app" && npx tsc -p . >"$scratch/tsc.log" 2>&1) || fail "tsc --strict (no skipLibCheck)" "$scratch/tsc.log"
pass "tsc --strict without skipLibCheck: consumer.ts and $(grep -c '\.ts$' "$scratch/examples.txt") README examples"
(cd "$app" && npx tsc -p . --exactOptionalPropertyTypes --noEmit >"$scratch/tsc-exact.log" 2>&1) ||
  fail "tsc --strict --exactOptionalPropertyTypes" "$scratch/tsc-exact.log"
pass "tsc --strict --exactOptionalPropertyTypes"

# ---- 4. run the README examples ---------------------------------------------------------------
(cd "$app" && node dist/message-schema.js >"$scratch/schema.log" 2>&1) || fail "message-schema example" "$scratch/schema.log"
grep -q '"code":"INVALID"' "$scratch/schema.log" && grep -q '"code":"BAD_FRAME"' "$scratch/schema.log" ||
  fail "message-schema example: expected an INVALID reply and a BAD_FRAME error frame" "$scratch/schema.log"
pass "message-schema README example"

port=$(free_port)
(cd "$app" && PORT=$port exec node dist/ws-sessions-server.js >"$scratch/ws-server.log" 2>&1) &
server=$!
pids+=("$server")
wait_http "http://127.0.0.1:$port/stats" 20 || fail "fastify-ws-sessions example: server not listening" "$scratch/ws-server.log"
(cd "$app" && PORT=$port timeout 15 node ws-sessions-client.js >"$scratch/ws-client.log" 2>&1) ||
  fail "fastify-ws-sessions client example" "$scratch/ws-client.log"
grep -q "id: 1, ok: true, data: { sid:" "$scratch/ws-client.log" && grep -q "id: 'a7', ok: true, data: { delivered: 0 }" "$scratch/ws-client.log" ||
  fail "fastify-ws-sessions example: the client did not get its two replies" "$scratch/ws-client.log"
stop "$server" "$scratch/ws-server.log" "fastify-ws-sessions example"
pass "fastify-ws-sessions README example: server + client (GET_SID, chat.send), SIGTERM -> exit 0"

port=$(free_port)
(cd "$app" && AMQP_URL=$amqp_url PORT=$port exec node dist/ci-bridge.js >"$scratch/bridge.log" 2>&1) &
server=$!
pids+=("$server")
wait_http "http://127.0.0.1:$port/readyz" 30 || fail "fastify-ci-bridge example: /readyz not 200 (broker link)" "$scratch/bridge.log"
answer=$(curl -s -X POST -H 'content-type: application/json' -d '{"text":"hi"}' "http://127.0.0.1:$port/events")
[ "$answer" = '{"ok":true}' ] || fail "fastify-ci-bridge example: POST /events answered $answer" "$scratch/bridge.log"
stop "$server" "$scratch/bridge.log" "fastify-ci-bridge example"
pass "fastify-ci-bridge README example against the broker: ready, event accepted, SIGTERM -> exit 0"

# ---- 5. the gateway's deploy folder ------------------------------------------------------------
node "$root/scripts/deploy-gateway.mjs" "$scratch/deploy" >"$scratch/deploy.log" 2>&1 || fail "deploy" "$scratch/deploy.log"
mv "$scratch/deploy" "$scratch/moved"
moved="$scratch/moved"
leaks=$(grep -rIl --exclude-dir=.pnpm "$root" "$moved" 2>/dev/null || true)
leaks+=$(grep -rIl "$root" "$moved/node_modules/.pnpm" 2>/dev/null | head -3 || true)
[ -z "$leaks" ] || fail "deploy folder names the build machine's path: $leaks"
if find "$moved" -name '*file+*' | grep -q .; then fail "deploy folder has folders named after build paths"; fi
[ ! -e "$moved/node_modules/@session-gateway/demo-client/src" ] || fail "deploy folder ships demo-client's src"
if find "$moved/dist" -name '*.map' | grep -q .; then fail "deploy folder ships source maps without sources"; fi
help=$(node "$moved/dist/main.js" --help)
grep -q "$root" <<<"$help" && fail "--help prints the build path"
pass "deploy folder: no build-machine paths, no sources of demo-client, no maps; --help clean"
port=$(free_port)
(GATEWAY_HOST=127.0.0.1 GATEWAY_PORT=$port AMQP_URL=$amqp_url GATEWAY_NODE_ID=package-check LOG_LEVEL=warn \
  exec node "$moved/dist/main.js" >"$scratch/gateway.log" 2>&1) &
server=$!
pids+=("$server")
wait_http "http://127.0.0.1:$port/readyz" 60 || fail "moved gateway: /readyz not 200" "$scratch/gateway.log"
stop "$server" "$scratch/gateway.log" "moved gateway"
pass "moved deploy folder runs against the broker: /readyz 200, SIGTERM -> exit 0"

# ---- 6. the client's example against the gateway (embedded mode, resume on) ----------------------
port=$(free_port)
(GATEWAY_HOST=127.0.0.1 GATEWAY_PORT=$port SESSION_RESUME_WINDOW_MS=30000 LOG_LEVEL=warn \
  exec node "$moved/dist/main.js" >"$scratch/gateway-embedded.log" 2>&1) &
server=$!
pids+=("$server")
wait_http "http://127.0.0.1:$port/readyz" 30 || fail "embedded gateway: /readyz not 200" "$scratch/gateway-embedded.log"
(cd "$app" && GATEWAY_URL="ws://127.0.0.1:$port/ws" timeout 20 node dist/client-example.js >"$scratch/client.log" 2>&1) ||
  fail "client example" "$scratch/client.log"
grep -q "^refused: INVALID" "$scratch/client.log" && grep -q "^resumed " "$scratch/client.log" &&
  grep -q "^resumed the same session: true" "$scratch/client.log" ||
  fail "client example: expected an INVALID refusal and a resume of the same session" "$scratch/client.log"
stop "$server" "$scratch/gateway-embedded.log" "embedded gateway"
pass "client README example against the gateway (embedded, resume on): request, INVALID, drop, resumed"
echo "package check: all passed"
