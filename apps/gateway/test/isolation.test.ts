import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { TestClient, until } from '@session-gateway/test-kit'
import WebSocket from 'ws'
import { unique } from './helpers/broker.js'
import { type BrokerFixture, startBrokerFixture } from './helpers/broker-fixture.js'
import type { FakeUserManager } from './helpers/fake-user-manager.js'
import { type StartedGateway, startGateway } from './helpers/gateway.js'

describe('cross-session safety: nothing a client sends can name another session', () => {
  const umQueue = unique('iso-um')
  const nodeId = unique('iso-node')
  let um: FakeUserManager
  let fixture: BrokerFixture | undefined
  let gw: StartedGateway
  let nodeAddress: string

  before(async () => {
    fixture = await startBrokerFixture({ umQueue, nodeIds: [nodeId] })
    ;({ um, gw } = fixture)
    nodeAddress = gw.gateway.backend.nodeReplyTo
  })
  after(async () => {
    await fixture?.close()
  })

  async function connect() {
    const client = await TestClient.open(gw.wsUrl)
    const sid = await client.sid()
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
    return { client, sid }
  }

  /** Every CLIENT_EVENT whose requestId is `id`, once a marker sent after it (same link, in order) arrived. */
  async function eventsWithId(client: TestClient, sid: string, id: string) {
    const marker = `marker-${unique('m')}`
    assert.equal((await client.request(marker)).ok, true)
    await um.waitFor((m) => m.body.type === 'CLIENT_EVENT' && m.body.sid === sid && m.body.event === marker)
    return um.received.filter((m) => m.body.type === 'CLIENT_EVENT' && m.body.requestId === id)
  }

  it('a frame carrying "sid" (or any field besides event, data, id) is INVALID and goes nowhere', async () => {
    const a = await connect()
    const b = await connect()
    for (const [field, value] of [
      ['sid', b.sid],
      ['SID', b.sid],
      ['session', b.sid],
      ['node', nodeId],
      ['from', b.sid],
      ['__proto__', { sid: b.sid }],
    ] as const) {
      const id = `x-${field}`
      a.client.ws.send(
        `{"event":"chat.send","data":{"text":"hi"},"id":${JSON.stringify(id)},${JSON.stringify(field)}:${JSON.stringify(value)}}`,
      )
      const reply = await a.client.reply(id)
      assert.equal(reply.ok, false, field)
      assert.equal(reply.error?.code, 'INVALID', field)
      assert.match(reply.error?.message ?? '', /unknown field/)
      assert.deepEqual(await eventsWithId(a.client, a.sid, id), [], `nothing forwarded for ${field}`)
    }
    // B saw nothing of it.
    assert.deepEqual(
      b.client.frames.filter((f) => f.event !== undefined),
      [],
    )
    await Promise.all([a.client.close(), b.client.close()])
  })

  it("CLIENT_EVENT always carries the connection's own sid, whatever data and event say", async () => {
    const a = await connect()
    const b = await connect()
    const cases: Array<[string, unknown]> = [
      ['chat.send', { sid: b.sid, node: nodeId, text: 'I am B' }],
      ['CLIENT_EVENT', { type: 'CLIENT_EVENT', v: 1, sid: b.sid, node: nodeId, event: 'x' }],
      ['EMIT', { type: 'EMIT', v: 1, sid: b.sid, event: 'pwned' }],
      ['DISCONNECT', { type: 'DISCONNECT', v: 1, sid: b.sid }],
      ['chat.send', [b.sid, b.sid]],
      ['chat.send', b.sid],
    ]
    for (const [index, [event, data]] of cases.entries()) {
      const id = `own-${index}`
      a.client.send({ event, data, id })
      assert.equal((await a.client.reply(id)).ok, true)
      const [forwarded, ...more] = await eventsWithId(a.client, a.sid, id)
      assert.equal(more.length, 0)
      assert.ok(forwarded && forwarded.body.type === 'CLIENT_EVENT')
      if (forwarded?.body.type !== 'CLIENT_EVENT') continue
      assert.equal(forwarded.body.sid, a.sid, `sid of ${event}`)
      assert.equal(forwarded.body.node, nodeId)
      assert.deepEqual(forwarded.body.data, data, 'data is passed through untouched, as data')
      assert.equal(forwarded.replyTo, nodeAddress)
    }
    // A CLIENT_EVENT named EMIT or DISCONNECT is an event name, nothing more: B is still open and unaffected.
    assert.equal(b.client.closeInfo, undefined)
    assert.deepEqual(
      b.client.frames.filter((f) => f.event !== undefined),
      [],
    )
    // GET_SID answers with the connection's own SID, whatever it carries.
    a.client.send({ event: 'GET_SID', data: { sid: b.sid }, id: 'who' })
    assert.deepEqual((await a.client.reply('who')).data, { sid: a.sid })
    await Promise.all([a.client.close(), b.client.close()])
  })

  it('two sessions using the same request ids each get their own replies, and CI messages reach only their SID', async () => {
    const a = await connect()
    const b = await connect()
    for (let i = 0; i < 50; i++) {
      a.client.send({ event: 'same.id', data: { from: 'a' }, id: i })
      b.client.send({ event: 'same.id', data: { from: 'b' }, id: i })
    }
    for (let i = 0; i < 50; i++) {
      assert.equal((await a.client.reply(i)).ok, true)
      assert.equal((await b.client.reply(i)).ok, true)
    }
    // Exactly one reply per id per session.
    assert.equal(a.client.frames.filter((f) => f.id !== undefined).length, 0)
    assert.equal(b.client.frames.filter((f) => f.id !== undefined).length, 0)
    await until(
      () =>
        um.received.filter((m) => m.body.type === 'CLIENT_EVENT' && m.body.event === 'same.id').length >= 100,
      { timeoutMs: 10_000, what: '100 events' },
    )
    for (const m of um.received.filter((x) => x.body.type === 'CLIENT_EVENT' && x.body.event === 'same.id')) {
      if (m.body.type !== 'CLIENT_EVENT') continue
      assert.equal(m.body.sid, (m.body.data as { from: string }).from === 'a' ? a.sid : b.sid)
    }
    // EMIT to A reaches A only.
    const result = await um.request(nodeAddress, { type: 'EMIT', v: 1, sid: a.sid, event: 'for.a', data: 1 })
    assert.deepEqual(result, { type: 'RESULT', v: 1, ok: true, data: { delivered: 1 } })
    await a.client.event('for.a')
    // A marker to B after it: B received nothing before the marker.
    await um.request(nodeAddress, { type: 'EMIT', v: 1, sid: b.sid, event: 'marker' })
    await b.client.event('marker')
    assert.equal(
      b.client.frames.some((f) => f.event === 'for.a'),
      false,
    )
    await Promise.all([a.client.close(), b.client.close()])
  })

  it('SIDs are unguessable: 10,000 of them are distinct base64url strings of 22 characters carrying 128 random bits', async () => {
    const total = 10_000
    const sids: string[] = []
    // The SIDs come from the sessions plugin whatever the transport: a node in embedded mode makes
    // them without a broker round trip per session.
    const embedded = await startGateway({ GATEWAY_NODE_ID: unique('iso-sids') })
    // In batches; each connection ends with a reset, so that 10,000 closes leave no TIME_WAIT behind.
    for (let done = 0; done < total; ) {
      const n = Math.min(100, total - done)
      const batch = await Promise.all(
        Array.from({ length: n }, async () => {
          const ws = new WebSocket(embedded.wsUrl)
          ws.on('error', () => {})
          await new Promise((resolve, reject) => {
            ws.once('open', resolve)
            ws.once('error', reject)
          })
          const sid = await new Promise<string>((resolve) => {
            ws.on('message', (data) => {
              const frame = JSON.parse(data.toString()) as { id?: number; data?: { sid?: string } }
              if (frame.id === 1) resolve(frame.data?.sid ?? '')
            })
            ws.send('{"event":"GET_SID","id":1}')
          })
          ;(ws as unknown as { _socket: Socket })._socket.resetAndDestroy()
          return sid
        }),
      )
      sids.push(...batch)
      done += n
    }
    await embedded.gateway.close()
    assert.equal(new Set(sids).size, total, 'no duplicates')
    for (const sid of sids) assert.match(sid, /^[A-Za-z0-9_-]{22,}$/)
    const length = sids[0]?.length ?? 0
    assert.ok(length >= 22)
    assert.ok(sids.every((s) => s.length === length))

    // Each character position: chi-square against the uniform distribution over the symbols the
    // position can hold (64; the 22nd character of 16 bytes in base64url holds 2 bits: 4 symbols).
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    let worstChi = 0
    for (let pos = 0; pos < length; pos++) {
      const counts = new Map<string, number>()
      for (const sid of sids) counts.set(sid[pos] as string, (counts.get(sid[pos] as string) ?? 0) + 1)
      const symbols = pos === length - 1 && length === 22 ? 4 : 64
      assert.ok(counts.size <= symbols)
      const expected = total / symbols
      let chi = 0
      for (let s = 0; s < symbols; s++) {
        const symbol = symbols === 64 ? alphabet[s] : 'AQgw'[s]
        const observed = counts.get(symbol as string) ?? 0
        chi += (observed - expected) ** 2 / expected
      }
      // df 63: mean 63, sd 11.2; 140 is ~7 sd out (p < 1e-9). df 3: 40 is p < 1e-8.
      assert.ok(chi < (symbols === 64 ? 140 : 40), `position ${pos}: chi-square ${chi.toFixed(1)}`)
      worstChi = Math.max(worstChi, symbols === 64 ? chi : 0)
    }

    // Every one of the 128 bits: ones within 5 sd of half (sd = 50 over 10,000), and the sum of the
    // per-bit entropies (an estimate of the SID's entropy) at least 127.9 bits.
    const bits = new Array<number>(128).fill(0)
    for (const sid of sids) {
      const bytes = Buffer.from(sid, 'base64url')
      assert.equal(bytes.length, 16)
      for (let i = 0; i < 128; i++)
        if (((bytes[i >> 3] as number) >> (7 - (i & 7))) & 1) bits[i] = (bits[i] as number) + 1
    }
    let entropy = 0
    for (const ones of bits) {
      assert.ok(Math.abs(ones - total / 2) < 250, `a bit set ${ones} times in ${total}`)
      const p = ones / total
      entropy += -(p * Math.log2(p) + (1 - p) * Math.log2(1 - p))
    }
    assert.ok(entropy >= 127.9, `estimated entropy ${entropy.toFixed(3)} bits`)
    console.log(
      `# ${total} SIDs, length ${length}, worst chi-square ${worstChi.toFixed(1)} (df 63), estimated entropy ${entropy.toFixed(3)} bits`,
    )
  })
})
