import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TestClient, until } from '@session-gateway/test-kit'
import { exitWithin, startDeployNodes } from './helpers/deploy-nodes.js'
import { openSession, typesOf } from './helpers/resume-nodes.js'

describe('rolling deploy drain (SIGTERM with resume on), child-process gateways', () => {
  it('readiness 503, 1012 to every connection, takeovers served; after GATEWAY_DRAIN_MS the rest ends once; NODE_STOPPED last; exit 0', async (t) => {
    const { um, nodes, stop } = await startDeployNodes(2, { GATEWAY_DRAIN_MS: '2500' })
    t.after(stop)
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
    const opened = await Promise.all([1, 2, 3].map(() => openSession(a.child.wsUrl)))
    for (const { session } of opened)
      await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === session.sid)
    const [moving, movingToo, staying] = opened as [
      (typeof opened)[0],
      (typeof opened)[0],
      (typeof opened)[0],
    ]

    a.child.child.kill('SIGTERM')
    for (const { client } of opened) assert.equal((await client.waitClosed(10_000)).code, 1012)
    await until(async () => (await a.child.readyz()) === 503, {
      timeoutMs: 5000,
      what: 'readiness 503 while draining',
    })
    for (const { session } of opened) {
      const detached = await um.waitFor(
        (m) => m.body.type === 'CLIENT_DETACHED' && m.body.sid === session.sid,
      )
      assert.equal(detached.body.type === 'CLIENT_DETACHED' && detached.body.code, 1012)
    }
    // Two clients come back on the other node while the first drains: their sessions move there.
    for (const { session } of [moving, movingToo]) {
      const back = await openSession(b.child.wsUrl, { token: session.resumeToken, lastSeq: 0 })
      assert.deepEqual([back.session.sid, back.session.resumed], [session.sid, true])
      await um.waitFor((m) => m.body.type === 'CLIENT_RESUMED' && m.body.sid === session.sid)
    }
    assert.deepEqual(await exitWithin(a, 30_000), { code: 0, signal: null })

    const ended = await um.waitFor(
      (m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === staying.session.sid,
      5000,
      'the session nobody resumed to end',
    )
    assert.equal(ended.body.type === 'CLIENT_DISCONNECTED' && ended.body.node, a.nodeId)
    const fromA = um.received.filter((m) => 'node' in m.body && m.body.node === a.nodeId)
    assert.equal(fromA.at(-1)?.body.type, 'NODE_STOPPED', 'NODE_STOPPED is the last message of the node')
    for (const { session } of [moving, movingToo]) {
      assert.deepEqual(typesOf(um.received, session.sid), [
        'CLIENT_CONNECTED',
        'CLIENT_DETACHED',
        'CLIENT_RESUMED',
      ])
    }
    assert.deepEqual(typesOf(um.received, staying.session.sid), [
      'CLIENT_CONNECTED',
      'CLIENT_DETACHED',
      'CLIENT_DISCONNECTED',
    ])
  })

  it('exits as soon as every session moved (well before a long GATEWAY_DRAIN_MS)', async (t) => {
    const { um, nodes, stop } = await startDeployNodes(2, {
      GATEWAY_DRAIN_MS: '120000',
      GATEWAY_TAKEOVER_TIMEOUT_MS: '500',
    })
    t.after(stop)
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
    const { client, session } = await openSession(a.child.wsUrl)
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === session.sid)
    a.child.child.kill('SIGTERM')
    assert.equal((await client.waitClosed(10_000)).code, 1012)
    const back = await openSession(b.child.wsUrl, { token: session.resumeToken, lastSeq: 0 })
    assert.equal(back.session.resumed, true)
    // Bounded well below the drain time: the node leaves once nothing is left to take over.
    assert.deepEqual(await exitWithin(a, 20_000), { code: 0, signal: null })
    await back.client.close()
  })

  it('resume off: version 1 holds (1001, CLIENT_DISCONNECTED, exit 0)', async (t) => {
    const { um, nodes, stop } = await startDeployNodes(1, { SESSION_RESUME_WINDOW_MS: '0' })
    t.after(stop)
    const [a] = nodes as [(typeof nodes)[0]]
    const client = await TestClient.open(a.child.wsUrl)
    const connected = await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED')
    a.child.child.kill('SIGTERM')
    assert.equal((await client.waitClosed(10_000)).code, 1001)
    assert.deepEqual(await exitWithin(a, 20_000), { code: 0, signal: null })
    const sid = connected.body.type === 'CLIENT_CONNECTED' ? connected.body.sid : ''
    await um.waitFor((m) => m.body.type === 'NODE_STOPPED')
    assert.deepEqual(typesOf(um.received, sid), ['CLIENT_CONNECTED', 'CLIENT_DISCONNECTED'])
  })
})
