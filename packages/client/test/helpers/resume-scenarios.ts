import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import { type ClientObservations, connect, type GatewayClient } from '../../src/index.js'
import { CutProxy } from './cut-proxy.js'
import { type GatewayNode, until } from './gateway-process.js'

/** The processes of one mode: a gateway with resume on (and, with a broker, the demo User Manager). */
export interface System {
  mode: string
  start(): Promise<GatewayNode>
  stop(): Promise<void>
  explain(): string
}

interface Member {
  client: GatewayClient
  /** Texts of the `room.message` events of the room, in the order they were delivered. */
  texts: string[]
  resumed: Array<ClientObservations['resumed']>
  resets: Array<ClientObservations['reset']>
}

/**
 * The client library against real gateway processes with resume on (the demo User Manager answers
 * `room.join` / `room.send`): a TCP drop under a client in a room, messages sent to the room
 * meanwhile by another client, and what the first sees when it is back.
 */
export function describeResume(system: System): void {
  describe(`client library against a gateway with resume on (${system.mode})`, () => {
    let gw: GatewayNode
    let proxy: CutProxy
    const clients: GatewayClient[] = []
    const room = `r-${randomBytes(4).toString('hex')}`
    const wait = (check: () => boolean | Promise<boolean>, what: string) =>
      until(check, what, 15_000, () => system.explain())

    before(async () => {
      gw = await system.start()
      proxy = await CutProxy.start(gw.port)
    })
    after(async () => {
      for (const c of clients) await c.close()
      await proxy?.close()
      await system.stop()
    })

    /** A client in the room (through the proxy when `viaProxy`), rejoining it after a reset. */
    async function member(viaProxy: boolean): Promise<Member> {
      const url = viaProxy ? `ws://127.0.0.1:${proxy.port}/ws` : gw.wsUrl
      const client = connect(url, { WebSocket, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } })
      clients.push(client)
      const m: Member = { client, texts: [], resumed: [], resets: [] }
      client.on('room.message', (data) => {
        const msg = data as { room?: string; text?: string }
        if (msg.room === room && typeof msg.text === 'string') m.texts.push(msg.text)
      })
      client.observe('resumed', (r) => m.resumed.push(r))
      client.observe('reset', (r) => {
        m.resets.push(r)
        void client.request('room.join', { room }).catch(() => {})
      })
      const { sid } = await client.ready()
      await client.request('room.join', { room })
      await wait(async () => (await gw.session(sid))?.rooms.includes(room) === true, `${sid} in ${room}`)
      return m
    }

    /** `from` sends `text` to the room and sees it come back: the gateway has emitted it to every member. */
    async function say(from: Member, text: string): Promise<void> {
      await from.client.request('room.send', { room, text })
      await wait(() => from.texts.includes(text), `${text} to reach its sender`)
    }

    it('after a TCP drop it resumes with the same SID and room; every message, also one lost in flight, arrives once, in order', async () => {
      const a = await member(true)
      const b = await member(false)
      const sid = a.client.sid as string
      await say(b, 'm1')
      await wait(() => a.texts.includes('m1'), 'm1 at a')

      // m2 is written to a's connection by the gateway but never reaches a: lost with the connection.
      proxy.stall()
      await say(b, 'm2')
      proxy.cut()
      await wait(() => a.client.state.status !== 'open', 'a to see the drop')
      await wait(async () => (await gw.session(sid))?.detached === true, 'the gateway to detach the session')
      for (const text of ['m3', 'm4', 'm5']) await say(b, text)

      proxy.restore()
      await wait(() => a.resumed.length === 1, 'a to resume')
      assert.equal(a.client.sid, sid, 'same SID')
      assert.ok((a.resumed[0]?.replayed ?? 0) >= 4, `replayed ${a.resumed[0]?.replayed}: m2-m5 at least`)
      await wait(() => a.texts.length >= 5, 'the replayed messages')
      await say(b, 'm6')
      await wait(() => a.texts.includes('m6'), 'a live message after the resume')
      assert.deepEqual(a.texts, ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'])
      assert.deepEqual(a.resets, [])
      const view = await gw.session(sid)
      assert.equal(view?.detached ?? false, false)
      assert.ok(view?.rooms.includes(room), 'still in the room, without joining again')
    })

    it('a session that ended while detached comes back as a reset (expired): a new SID, and the app rejoins', async () => {
      const a = await member(true)
      const b = await member(false)
      const oldSid = a.client.sid as string
      proxy.cut()
      await wait(async () => (await gw.session(oldSid))?.detached === true, 'the session detached')
      const ended = await gw.http('DELETE', `/v1/sessions/${oldSid}?code=4001&reason=test`)
      assert.equal(ended.status, 204)
      proxy.restore()
      await wait(() => a.resets.length === 1, 'a reset')
      assert.equal(a.resets[0]?.previousSid, oldSid)
      assert.equal(a.resets[0]?.reason, 'expired')
      assert.notEqual(a.client.sid, oldSid)
      assert.deepEqual(a.resumed, [])
      const sid = a.client.sid as string
      await wait(
        async () => (await gw.session(sid))?.rooms.includes(room) === true,
        'the new session rejoined',
      )
      await say(b, 'after-reset')
      await wait(() => a.texts.includes('after-reset'), 'a message to the new session')
    })

    it('a 4xxx close from the gateway is final: the client closes and does not come back', async () => {
      const a = await member(false)
      const sid = a.client.sid as string
      const closed = new Promise<ClientObservations['closed']>((resolve) =>
        a.client.observe('closed', resolve),
      )
      assert.equal((await gw.http('DELETE', `/v1/sessions/${sid}?code=4403&reason=banned`)).status, 204)
      assert.deepEqual(await closed, { by: 'server', code: 4403, reason: 'banned' })
      assert.equal(a.client.state.status, 'closed')
      await assert.rejects(a.client.request('room.send', { room, text: 'x' }), { code: 'NOT_CONNECTED' })
      await wait(async () => (await gw.session(sid)) === undefined, 'the gateway to end the session')
      assert.equal(a.client.state.status, 'closed', 'still closed: no reconnect')
    })
  })
}
