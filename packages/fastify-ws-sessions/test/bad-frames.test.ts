import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { TestClient, until } from '@session-gateway/test-kit'
import { disconnectRecorder, startServer, type TestServer } from './helpers.js'

describe('bad frames: each kind gets its coded error and the session lives', () => {
  let server: TestServer
  let client: TestClient
  before(async () => {
    server = await startServer({ heartbeatIntervalMs: 0, maxBadFrames: 100, maxDepth: 8 }, (app) => {
      app.wsSessions.handle('echo', (_s, data) => data)
    })
    client = await TestClient.open(server.url)
  })
  after(async () => {
    await client.close()
    await server.close()
  })

  async function expectError(frame: string | Buffer, code: string, message: RegExp, id?: unknown) {
    client.ws.send(frame)
    const answer = await client.next()
    if (id === undefined) {
      assert.equal(answer.event, 'error', JSON.stringify(answer))
      assert.equal(answer.data.code, code)
      assert.match(answer.data.message, message)
    } else {
      assert.equal(answer.id, id)
      assert.equal(answer.ok, false)
      assert.equal(answer.error.code, code)
      assert.match(answer.error.message, message)
    }
    // Still alive and well.
    assert.deepEqual(await client.exchange({ event: 'echo', data: 'alive', id: 'ping' }), {
      id: 'ping',
      ok: true,
      data: 'alive',
    })
  }

  it('not JSON -> BAD_FRAME', () => expectError('{"event": "echo"', 'BAD_FRAME', /not valid JSON/))
  it('JSON but not an object -> BAD_FRAME', () => expectError('42', 'BAD_FRAME', /must be a JSON object/))
  it('a string -> BAD_FRAME', () => expectError('"GET_SID"', 'BAD_FRAME', /must be a JSON object/))
  it('an array -> BAD_FRAME', () => expectError('[{"event":"echo"}]', 'BAD_FRAME', /must be a JSON object/))
  it('a binary frame -> BAD_FRAME', () => expectError(Buffer.from('{"event":"echo"}'), 'BAD_FRAME', /binary/))
  it('schema failure without a usable id -> INVALID error frame', () =>
    expectError(JSON.stringify({ data: 1 }), 'INVALID', /missing "event"/))
  it('schema failure with a bad id -> INVALID error frame', () =>
    expectError(JSON.stringify({ event: 'echo', id: -1 }), 'INVALID', /"id" must be/))
  it('schema failure with a usable id -> INVALID reply with that id', () =>
    expectError(JSON.stringify({ event: 'bad event!', id: 'x1' }), 'INVALID', /"event" must be/, 'x1'))
  it('an unknown field -> INVALID reply', () =>
    expectError(JSON.stringify({ event: 'echo', id: 9, extra: true }), 'INVALID', /unknown field "extra"/, 9))
  it('nesting deeper than maxDepth -> INVALID', () =>
    expectError(`{"event":"echo","data":${'['.repeat(20)}${']'.repeat(20)}}`, 'INVALID', /deeper than 8/))
  it('counts them by code', () => {
    const { errorsByCode } = server.app.wsSessions.stats
    assert.equal(errorsByCode.BAD_FRAME, 5)
    assert.equal(errorsByCode.INVALID, 5)
  })
})

describe('bad-frame budget', () => {
  it('answers maxBadFrames bad frames, then closes 1008 on one more', async (t) => {
    const recorder = disconnectRecorder()
    const server = await startServer({
      heartbeatIntervalMs: 0,
      maxBadFrames: 3,
      onDisconnect: recorder.onDisconnect,
    })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    const sid = await client.sid()
    for (let i = 0; i < 3; i++) {
      assert.equal((await client.exchange('nope')).data.code, 'BAD_FRAME')
    }
    assert.ok(server.app.wsSessions.get(sid)?.isOpen)
    client.send('nope')
    assert.equal((await client.next()).data.code, 'BAD_FRAME')
    assert.deepEqual(await client.closed, { code: 1008, reason: 'too many bad frames' })
    await until(() => recorder.calls.length === 1)
    assert.deepEqual(recorder.calls, [{ sid, code: 1008, reason: 'too many bad frames' }])
  })

  it('with maxBadFrames 0 the first bad frame closes the session', async (t) => {
    const server = await startServer({ heartbeatIntervalMs: 0, maxBadFrames: 0 })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    client.send(Buffer.from([1, 2, 3]))
    assert.equal((await client.closed).code, 1008)
  })
})

describe('maximum frame size', () => {
  it('closes with 1009 when a frame is larger than maxPayload; smaller frames pass', async (t) => {
    const recorder = disconnectRecorder()
    const server = await startServer(
      { heartbeatIntervalMs: 0, maxPayload: 1024, onDisconnect: recorder.onDisconnect },
      (app) => {
        app.wsSessions.handle('echo', (_s, data) => data)
      },
    )
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    const sid = await client.sid()
    const fits = 'x'.repeat(900)
    assert.equal((await client.exchange({ event: 'echo', data: fits, id: 1 })).data, fits)
    client.send({ event: 'echo', data: 'x'.repeat(2000), id: 2 })
    assert.equal((await client.closed).code, 1009)
    await until(() => recorder.calls.length === 1)
    assert.deepEqual(recorder.calls, [{ sid, code: 1009, reason: 'message too big' }])
    assert.equal(server.app.wsSessions.stats.errorsByCode.PAYLOAD_TOO_LARGE, 1)
    assert.equal(server.app.wsSessions.size, 0)
  })
})
