// Outcomes toward the sender that RabbitMQ does not produce on demand, from an in-process rhea peer.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { until } from '@session-gateway/test-kit'
import { BridgeError, createCiBridge } from '../src/index.js'
import { cut, type PeerDelivery, startFakePeer } from './fake-peer.js'
import { captureLogger, closer } from './helpers.js'

// One test below talks to the real broker on 5672 (bad credentials): RabbitMQ refuses them after ~3 s.

function bridgeFor(url: string, extra: Record<string, unknown> = {}, logger = captureLogger()) {
  return createCiBridge(
    {
      url,
      nodeId: 'outcomes',
      profile: 'generic',
      userManagerAddress: 'um',
      nodeAddress: 'node',
      broadcastAddress: 'broadcast',
      requestReplyAddress: 'replies',
      reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
      ...extra,
    },
    logger,
  )
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<BridgeError> {
  const error = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  )
  assert.ok(error instanceof BridgeError, `a BridgeError, got ${String(error)}`)
  assert.equal(error.code, code)
  return error
}

test('rejected -> REJECTED with the condition; released and modified -> RELEASED', async (t) => {
  const peer = await startFakePeer((d: PeerDelivery) => {
    const kind = (d.message.subject ?? '') as string
    if (kind === 'reject')
      d.delivery.reject({ condition: 'amqp:precondition-failed', description: 'no thanks' })
    else if (kind === 'release') d.delivery.release()
    else if (kind === 'modify') d.delivery.modified({ delivery_failed: true })
    else d.delivery.accept()
  })
  const bridge = bridgeFor(peer.url)
  t.after(async () => {
    await bridge.close()
    await peer.close()
  })
  await bridge.waitForOpen(5000)
  const rejected = await expectCode(bridge.send('um', { type: 'reject' }), 'REJECTED')
  assert.equal(rejected.condition, 'amqp:precondition-failed')
  assert.match(rejected.message, /no thanks/)
  await expectCode(bridge.send('um', { type: 'release' }), 'RELEASED')
  await expectCode(bridge.send('other', { type: 'modify' }), 'RELEASED')
  await bridge.send('um', { type: 'ok' })
  const stats = bridge.stats
  assert.equal(stats.rejected, 1)
  assert.equal(stats.released, 2)
  assert.equal(stats.accepted, 1)
  assert.equal(stats.inFlight, 0)
})

test('no outcome at all -> TIMEOUT after sendTimeoutMs', async (t) => {
  const peer = await startFakePeer(() => {
    // never settles
  })
  const bridge = bridgeFor(peer.url, { sendTimeoutMs: 200, closeTimeoutMs: 100 })
  t.after(async () => {
    await bridge.close()
    await peer.close()
  })
  await bridge.waitForOpen(5000)
  const started = Date.now()
  await expectCode(bridge.send('um', { type: 'X' }), 'TIMEOUT')
  const elapsed = Date.now() - started
  assert.ok(elapsed >= 190 && elapsed < 2000, `timed out after ${elapsed} ms`)
  assert.equal(bridge.stats.timedOut, 1)
})

test('a connection cut with a message in flight: resent with the same message_id, resolved once', async (t) => {
  const peer = await startFakePeer((d) => {
    // First connection: swallow the message and crash (like kill -9 of a broker). Then accept.
    if (d.connectionNumber === 1) cut(d.connection)
    else d.delivery.accept()
  })
  const bridge = bridgeFor(peer.url)
  const states: string[] = []
  bridge.on('state', (state) => states.push(state))
  t.after(async () => {
    await bridge.close()
    await peer.close()
  })
  await bridge.waitForOpen(5000)
  await bridge.send('um', { type: 'X' }, { messageId: 'm-1' })
  const ids = peer.received.map((d) => d.message.message_id)
  assert.deepEqual(ids, ['m-1', 'm-1'])
  assert.deepEqual(
    peer.received.map((d) => d.connectionNumber),
    [1, 2],
  )
  assert.equal(bridge.stats.accepted, 1)
  assert.equal(bridge.stats.resent, 1)
  assert.equal(bridge.stats.reconnects, 1)
  assert.deepEqual(states, ['open', 'reconnecting', 'open'])
})

test('a sender link detached by the peer with an error rejects its sends with REJECTED; other links live on', async (t) => {
  const peer = await startFakePeer((d) => {
    if (d.receiver.target?.address !== 'forbidden') d.delivery.accept()
  })
  const bridge = bridgeFor(peer.url)
  t.after(async () => {
    await bridge.close()
    await peer.close()
  })
  await bridge.waitForOpen(5000)
  // Close the peer's end of the link to "forbidden" with an error as soon as a message arrives there.
  const forbidden = bridge.send('forbidden', { type: 'X' })
  await until(() => peer.received.length === 1, { timeoutMs: 5000, what: 'the message at the peer' })
  const first = peer.received.find((d) => d.receiver.target?.address === 'forbidden')
  assert.ok(first)
  // the message is not settled: the link dies under it
  first.receiver.close({ condition: 'amqp:unauthorized-access', description: 'not you' })
  const error = await expectCode(forbidden, 'REJECTED')
  assert.equal(error.condition, 'amqp:unauthorized-access')
  await bridge.send('um', { type: 'still fine' })
  assert.equal(bridge.state, 'open')
})

test('nothing is left running once the bridge is closed', async (t) => {
  const keep = closer(t)
  const peer = keep(await startFakePeer((d) => d.delivery.accept()))
  const bridge = keep(bridgeFor(peer.url))
  await bridge.waitForOpen(5000)
  await bridge.send('um', { type: 'X' })
  await bridge.close()
  await peer.close()
  await until(
    () =>
      !process
        .getActiveResourcesInfo()
        .some((r) => r === 'Timeout' || r === 'TCPSocketWrap' || r === 'TCPServerWrap'),
    { timeoutMs: 2000, what: `no timers or sockets left (${process.getActiveResourcesInfo().join(', ')})` },
  )
})

test('every timer of the bridge is counted and none is left once it is closed', async (t) => {
  // The bridge's timers are unref()ed: hold the event loop open while close() waits on them.
  const hold = setInterval(() => {}, 1000)
  t.after(() => clearInterval(hold))
  // Broker away: a reconnect is pending, a send waits with its timeout, waitForOpen waits too.
  const away = createCiBridge({
    url: 'amqp://guest:guest@127.0.0.1:1',
    nodeId: 'timers',
    closeTimeoutMs: 100,
  })
  const sent = away.sendToUserManager({ type: 'X', v: 1 })
  const open = away.waitForOpen(60_000)
  await until(() => away.activeTimers >= 3, {
    timeoutMs: 2000,
    what: 'the reconnect, send-timeout and waitForOpen timers',
  })
  await away.close()
  await assert.rejects(sent, { code: 'CLOSED' })
  await assert.rejects(open, { code: 'CLOSED' })
  assert.equal(away.activeTimers, 0)
})

test('amqps:// with tls options: the certificate is verified (ca given: open; no ca: never open)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ci-bridge-tls-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  )
  const key = readFileSync(join(dir, 'key.pem'), 'utf8')
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8')
  const peer = await startFakePeer((d) => d.delivery.accept(), undefined, { key, cert })
  const trusted = bridgeFor(peer.url, { tls: { ca: cert } })
  const untrustedLog = captureLogger()
  const untrusted = bridgeFor(peer.url, { connectTimeoutMs: 2000 }, untrustedLog)
  t.after(async () => {
    await Promise.all([trusted.close(), untrusted.close()])
    await peer.close()
  })
  await trusted.waitForOpen(5000)
  await trusted.send('um', { type: 'over TLS' })
  assert.equal(peer.received.at(-1)?.message.subject, 'over TLS')
  // Without the ca, the handshake fails on the certificate itself (not a timeout, not a refusal):
  // the attempt's warning carries TLS's verification error.
  await until(() => untrustedLog.entries.some((e) => e.obj.err !== undefined), {
    timeoutMs: 5000,
    what: 'a failed connection attempt',
  })
  const failure = untrustedLog.entries.find((e) => e.obj.err !== undefined)
  // A self-signed certificate not in the trusted set: Node's DEPTH_ZERO_SELF_SIGNED_CERT.
  assert.equal((failure?.obj.err as { code?: string } | undefined)?.code, 'DEPTH_ZERO_SELF_SIGNED_CERT')
  assert.equal(untrusted.state, 'connecting')
  assert.equal(peer.received.length, 1, 'nothing sent over the unverified connection')
})

test('bad credentials: the bridge keeps trying (with backoff), warns, never crashes', async (t) => {
  const logger = captureLogger()
  const wrong = createCiBridge(
    {
      url: 'amqp://guest:wrong@127.0.0.1:5672',
      nodeId: 't-auth',
      reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
      closeTimeoutMs: 100,
    },
    logger,
  )
  t.after(() => wrong.close())
  await until(() => logger.entries.some((e) => e.level === 'warn'), { timeoutMs: 5000, what: 'a warning' })
  const warning = logger.entries.find((e) => e.level === 'warn')
  assert.equal(
    String(warning?.msg),
    'amqp: connection attempt failed (authentication failed: check the user and password in the URL)',
  )
  assert.equal(wrong.state, 'connecting')
  assert.doesNotMatch(
    JSON.stringify(logger.entries.map((e) => e.obj)),
    /wrong/,
    'the password is never logged',
  )
  // Closed here, before the checks of what closing leaves (t.after closes it too when a check above fails).
  await wrong.close()
  // The refused SASL exchange leaves no rhea timer behind (it would hold the process for 60 s).
  await until(() => !process.getActiveResourcesInfo().some((r) => r === 'Timeout' || r === 'TCPSocketWrap'), {
    timeoutMs: 2000,
    what: `no timers or sockets left (${process.getActiveResourcesInfo().join(', ')})`,
  })
})
