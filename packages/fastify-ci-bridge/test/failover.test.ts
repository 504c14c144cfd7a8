import assert from 'node:assert/strict'
import { once } from 'node:events'
import { type AddressInfo, createServer } from 'node:net'
import { test } from 'node:test'
import { until } from '@session-gateway/test-kit'
import { createCiBridge } from '../src/index.js'
import { startFakePeer } from './fake-peer.js'
import { captureLogger } from './helpers.js'

/** A loopback port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

const masked = (url: string) => url.replace(':pass@', ':***@')

test('several URLs: a failed attempt moves to the next; a lost connection fails over, its unsettled message resent there', async (t) => {
  // Two in-process peers stand for two broker nodes: a broker cannot be told to hold an outcome.
  const first = await startFakePeer(() => {}) // never settles: the message stays unsettled on it
  const second = await startFakePeer(({ delivery }) => delivery.accept())
  t.after(() => Promise.all([first.close(), second.close()]))
  const refused = `amqp://user:pass@127.0.0.1:${await freePort()}` // nothing listens there
  const bridge = createCiBridge(
    { url: [refused, first.url, second.url], nodeId: 'failover', reconnect: { maxDelayMs: 200 } },
    captureLogger(),
  )
  t.after(() => bridge.close())

  await bridge.waitForOpen(10_000)
  assert.equal(bridge.connectedUrl, masked(first.url), 'the refused URL was skipped, in order')
  assert.equal(bridge.failingOver, false)

  const sent = bridge.sendToUserManager({ type: 'CLIENT_EVENT', v: 1 }, { messageId: 'm-1' })
  await until(() => first.received.length === 1, { timeoutMs: 5000, what: 'the message on the first node' })

  const seenWhileLost: boolean[] = []
  bridge.on('state', (state) => {
    if (state === 'reconnecting') seenWhileLost.push(bridge.failingOver)
  })
  await first.close() // the first node dies with the message unsettled
  await sent // resent to the next URL and accepted there
  assert.deepEqual(seenWhileLost, [true], 'a lost node with other URLs left is a failover')
  assert.equal(bridge.connectedUrl, masked(second.url))
  assert.deepEqual(
    second.received.map((d) => d.message.message_id),
    ['m-1'],
    'the same message id, so a receiver can drop a duplicate',
  )

  await second.close() // now every URL is down: an outage, no longer a failover
  await until(() => bridge.state === 'reconnecting' && !bridge.failingOver, {
    timeoutMs: 10_000,
    what: 'every URL refused',
  })
  assert.equal(bridge.connectedUrl, undefined)
})

test('one URL: a lost connection is never a failover', async (t) => {
  const only = await startFakePeer(({ delivery }) => delivery.accept())
  const bridge = createCiBridge({ url: only.url, nodeId: 'single' }, captureLogger())
  t.after(() => bridge.close())
  await bridge.waitForOpen(10_000)
  const seen: boolean[] = []
  bridge.on('state', (state) => {
    if (state === 'reconnecting') seen.push(bridge.failingOver)
  })
  await only.close()
  await until(() => seen.length === 1, { timeoutMs: 10_000, what: 'the loss' })
  assert.deepEqual(seen, [false])
})
