import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import type { AddressInfo, Socket } from 'node:net'
import { describe, it } from 'node:test'
import { TestClient, until, within } from '@session-gateway/test-kit'
import WebSocket, { WebSocketServer } from 'ws'
import { directSender, encodeTextFrame, SharedFrame, senderIdle } from '../src/shared-frame.js'
import type { SessionTransport } from '../src/transport.js'
import { startServer, startSlowConsumerServer } from './helpers.js'

/** ws's own encoder (untyped in @types/ws), as the reference for the frames built here. */
const wsFrame = (
  WebSocket as unknown as {
    Sender: { frame(data: Buffer, options: Record<string, unknown>): Buffer[] }
  }
).Sender.frame

function wsTextFrame(text: string): Buffer {
  const options = { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false }
  return Buffer.concat(wsFrame(Buffer.from(text), options))
}

/** A server-side ws connection (and its TCP socket) with the client's options. */
async function serverSide(
  serverOptions: ConstructorParameters<typeof WebSocketServer>[0],
  clientOptions: WebSocket.ClientOptions = {},
): Promise<{ socket: WebSocket; tcp: Socket; close(): Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...serverOptions })
  await new Promise((resolve) => wss.once('listening', resolve))
  const { port } = wss.address() as AddressInfo
  const accepted = new Promise<{ socket: WebSocket; tcp: Socket }>((resolve) => {
    wss.once('connection', (socket, request) => resolve({ socket, tcp: request.socket as Socket }))
  })
  const client = new WebSocket(`ws://127.0.0.1:${port}`, clientOptions)
  const side = await within(accepted, 3000, 'the connection')
  return {
    ...side,
    async close() {
      client.terminate()
      await new Promise((resolve) => wss.close(resolve))
    },
  }
}

describe('shared frames', () => {
  it('encodes the frame ws would write, for every length form and multi-byte text', () => {
    for (const text of [
      '',
      'a',
      'x'.repeat(125),
      'x'.repeat(126),
      'é'.repeat(63),
      'x'.repeat(65_535),
      'x'.repeat(65_536),
      '€'.repeat(70_000),
    ]) {
      assert.deepEqual(encodeTextFrame(text), wsTextFrame(text), `${Buffer.byteLength(text)} bytes`)
    }
    const frame = new SharedFrame('{"event":"e"}')
    assert.equal(frame.wire, frame.wire, 'built once')
  })

  it('writes directly only to a server-side ws socket on its own TCP socket without extensions', async (t) => {
    const plain = await serverSide({})
    t.after(() => plain.close())
    const sender = directSender(plain.socket as unknown as SessionTransport, plain.tcp)
    assert.ok(sender, 'a plain ws connection')
    assert.equal(senderIdle(sender), true)
    assert.equal(directSender(plain.socket as unknown as SessionTransport, undefined), undefined)

    const deflate = await serverSide({ perMessageDeflate: true }, { perMessageDeflate: true })
    t.after(() => deflate.close())
    assert.equal(
      directSender(deflate.socket as unknown as SessionTransport, deflate.tcp),
      undefined,
      'permessage-deflate negotiated: ws compresses, and may queue frames meanwhile',
    )
    assert.equal(directSender(plain.socket as unknown as SessionTransport, deflate.tcp), undefined)

    const other = Object.assign(new EventEmitter(), { readyState: 1 }) as unknown as SessionTransport
    assert.equal(directSender(other, plain.tcp), undefined, 'not a ws WebSocket')
  })

  it('falls back to send while ws is compressing or holds frames back', () => {
    assert.equal(senderIdle({ _state: 0, _queue: [] }), true)
    assert.equal(senderIdle({ _state: 1, _queue: [] }), false)
    assert.equal(senderIdle({ _state: 0, _queue: [['frame']] }), false)
  })

  it("broadcast and room events and the session's own frames leave prebuilt, in the order they were sent", async (t) => {
    const server = await startServer({ heartbeatIntervalMs: 0 })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    t.after(() => client.close())
    const sid = await client.sid()
    const registry = server.app.wsSessions
    registry.join(sid, 'r')
    const sent = t.mock.method(WebSocket.prototype, 'send')
    const session = registry.get(sid)
    assert.ok(session)
    assert.equal(session.send('first', 1), true)
    assert.equal(registry.broadcast('all', { n: 'é' }), 1)
    assert.equal(session.send('middle', 2), true)
    assert.equal(registry.emitToRoom('r', 'room', 3), 1)
    assert.equal(session.send('last', 5), true)
    await until(() => client.frames.some((f) => 'event' in f && f.event === 'last'), {
      what: 'the last frame',
    })
    const events = client.frames.filter((f) => 'event' in f).slice(-5)
    assert.deepEqual(events, [
      { event: 'first', data: 1 },
      { event: 'all', data: { n: 'é' } },
      { event: 'middle', data: 2 },
      { event: 'room', data: 3 },
      { event: 'last', data: 5 },
    ])
    assert.equal(sent.mock.callCount(), 0, "none went through ws's send: its sender was idle for each")
  })

  it('a broadcast to a client that stops reading closes it with 1013 at the send-buffer bound', async (t) => {
    const { server, recorder } = await startSlowConsumerServer(t)
    const slow = await TestClient.open(server.url)
    const fast = await TestClient.open(server.url)
    const slowSid = await slow.sid()
    await fast.sid()
    const raw = (slow.ws as unknown as { _socket: Socket })._socket
    raw.pause()
    const big = 'x'.repeat(64 * 1024)
    const registry = server.app.wsSessions
    let broadcasts = 0
    // Each broadcast is its own turn, as broadcasts from separate CI messages are.
    while (registry.get(slowSid)?.isOpen) {
      assert.equal(registry.broadcast('big', big) >= 1, true)
      broadcasts++
      assert.ok(broadcasts < 2000, 'the send buffer never passed its bound')
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.equal(registry.broadcast('after', 1), 1, 'the closing session is not counted delivered')
    await until(() => recorder.for(slowSid).length === 1, { timeoutMs: 3000, what: 'the disconnect hook' })
    assert.deepEqual(recorder.for(slowSid), [{ sid: slowSid, code: 1013, reason: 'slow consumer' }])
    await fast.event('after')
    assert.equal(fast.frames.filter((f) => 'event' in f && f.event === 'big').length, broadcasts)
    raw.resume()
    await fast.close()
  })
})
