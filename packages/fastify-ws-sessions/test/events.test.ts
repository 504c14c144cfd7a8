import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { TestClient, until } from '@session-gateway/test-kit'
import { SessionError } from '../src/index.js'
import { startServer, type TestServer } from './helpers.js'

const SID_RE = /^[A-Za-z0-9_-]{22}$/

describe('GET_SID', () => {
  let server: TestServer
  before(async () => {
    server = await startServer({ heartbeatIntervalMs: 0 })
  })
  after(() => server.close())

  it('answers a reply frame when the client sent an id', async () => {
    const client = await TestClient.open(server.url)
    const reply = await client.exchange({ event: 'GET_SID', id: 1 })
    assert.match(reply.data.sid, SID_RE)
    assert.deepEqual(reply, { id: 1, ok: true, data: { sid: reply.data.sid } })
    assert.ok(server.app.wsSessions.has(reply.data.sid))
    await client.close()
  })

  it('answers an event frame without an id', async () => {
    const client = await TestClient.open(server.url)
    const frame = await client.exchange({ event: 'GET_SID' })
    assert.match(frame.data.sid, SID_RE)
    assert.deepEqual(frame, { event: 'GET_SID', data: { sid: frame.data.sid } })
    await client.close()
  })

  it('gives every session its own SID', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => TestClient.open(server.url)))
    const sids = await Promise.all(clients.map((c) => c.sid()))
    assert.equal(new Set(sids).size, 20)
    await Promise.all(clients.map((c) => c.close()))
  })

  it('is reserved: handle("GET_SID") throws', () => {
    assert.throws(() => server.app.wsSessions.handle('GET_SID', () => 1), {
      message: 'fastify-ws-sessions: event "GET_SID" is reserved',
    })
  })
})

describe('event handlers', () => {
  let server: TestServer
  const seen: Array<{ event: string; data: unknown }> = []
  before(async () => {
    server = await startServer(
      {
        heartbeatIntervalMs: 0,
        onEvent: (session, data, frame) => {
          seen.push({ event: frame.event, data })
          if (frame.event === 'fallback.fail') throw new SessionError('UNAVAILABLE', 'backend away')
          return { forwarded: frame.event, sid: session.sid }
        },
      },
      (app) => {
        app.wsSessions.handle('echo', (_session, data) => data)
        app.wsSessions.handle('nothing', () => undefined)
        app.wsSessions.handle('refuse', () => {
          throw new SessionError('FORBIDDEN', 'not for you')
        })
        app.wsSessions.handle('crash', () => {
          throw new Error('secret database password in this message')
        })
        app.wsSessions.handle('async', async (_session, data) => {
          await new Promise((resolve) => setImmediate(resolve))
          return { doubled: (data as number) * 2 }
        })
        app.wsSessions.handle('async.refuse', async () => {
          await new Promise((resolve) => setImmediate(resolve))
          throw new SessionError('NOPE', 'async refusal')
        })
        app.wsSessions.handle('async.crash', async () => Promise.reject(new Error('internal detail')))
        app.wsSessions.handle('bigint', () => 10n)
        app.wsSessions.handle('whoami', (session) => ({ sid: session.sid, user: session.user ?? null }))
      },
    )
  })
  after(() => server.close())

  it('replies with the returned value', async () => {
    const client = await TestClient.open(server.url)
    assert.deepEqual(await client.exchange({ event: 'echo', data: { a: [1, 2] }, id: 'e1' }), {
      id: 'e1',
      ok: true,
      data: { a: [1, 2] },
    })
    await client.close()
  })

  it('leaves data out of the reply when the handler returns undefined', async () => {
    const client = await TestClient.open(server.url)
    assert.deepEqual(await client.exchange({ event: 'nothing', id: 7 }), { id: 7, ok: true })
    await client.close()
  })

  it('turns a thrown SessionError into an error reply with its code and message', async () => {
    const client = await TestClient.open(server.url)
    assert.deepEqual(await client.exchange({ event: 'refuse', id: 2 }), {
      id: 2,
      ok: false,
      error: { code: 'FORBIDDEN', message: 'not for you' },
    })
    await client.close()
  })

  it('turns any other error into INTERNAL without leaking its message', async () => {
    const client = await TestClient.open(server.url)
    const reply = await client.exchange({ event: 'crash', id: 3 })
    assert.deepEqual(reply, { id: 3, ok: false, error: { code: 'INTERNAL', message: 'internal error' } })
    assert.ok(!JSON.stringify(reply).includes('password'))
    // The session lives on.
    assert.equal((await client.exchange({ event: 'echo', data: 1, id: 4 })).data, 1)
    await client.close()
  })

  it('supports async handlers: value, SessionError and unexpected error', async () => {
    const client = await TestClient.open(server.url)
    assert.deepEqual(await client.exchange({ event: 'async', data: 21, id: 'a' }), {
      id: 'a',
      ok: true,
      data: { doubled: 42 },
    })
    assert.deepEqual(await client.exchange({ event: 'async.refuse', id: 'b' }), {
      id: 'b',
      ok: false,
      error: { code: 'NOPE', message: 'async refusal' },
    })
    assert.deepEqual(await client.exchange({ event: 'async.crash', id: 'c' }), {
      id: 'c',
      ok: false,
      error: { code: 'INTERNAL', message: 'internal error' },
    })
    await client.close()
  })

  it('answers INTERNAL when the returned value cannot be serialized', async () => {
    const client = await TestClient.open(server.url)
    assert.deepEqual(await client.exchange({ event: 'bigint', id: 5 }), {
      id: 5,
      ok: false,
      error: { code: 'INTERNAL', message: 'internal error' },
    })
    await client.close()
  })

  it('replies nothing at all to a frame without id, whether the handler returns or throws', async () => {
    const client = await TestClient.open(server.url)
    const before = { ...server.app.wsSessions.stats.errorsByCode }
    client.send({ event: 'echo', data: 'x' })
    client.send({ event: 'refuse' })
    client.send({ event: 'crash' })
    client.send({ event: 'async.refuse' })
    // Frames of one session are handled in order: had any of those been answered, it would come first.
    assert.deepEqual(await client.exchange({ event: 'async', data: 1, id: 'last' }), {
      id: 'last',
      ok: true,
      data: { doubled: 2 },
    })
    assert.equal(client.frames.length, 0)
    const after = server.app.wsSessions.stats.errorsByCode
    assert.equal(after.FORBIDDEN, (before.FORBIDDEN ?? 0) + 1)
    assert.equal(after.INTERNAL, (before.INTERNAL ?? 0) + 1)
    assert.equal(after.NOPE, (before.NOPE ?? 0) + 1)
    await client.close()
  })

  it('sends every event without its own handler to the fallback', async () => {
    const client = await TestClient.open(server.url)
    const sid = await client.sid()
    const reply = await client.exchange({ event: 'chat.send', data: { text: 'hi' }, id: 'f' })
    assert.deepEqual(reply, { id: 'f', ok: true, data: { forwarded: 'chat.send', sid } })
    assert.deepEqual(seen.at(-1), { event: 'chat.send', data: { text: 'hi' } })
    assert.deepEqual(await client.exchange({ event: 'fallback.fail', id: 'g' }), {
      id: 'g',
      ok: false,
      error: { code: 'UNAVAILABLE', message: 'backend away' },
    })
    await client.close()
  })

  it('refuses a second handler for the same event and bad event names', () => {
    assert.throws(() => server.app.wsSessions.handle('echo', () => 1), {
      message: 'fastify-ws-sessions: event "echo" already has a handler',
    })
    assert.throws(() => server.app.wsSessions.handle('bad name!', () => 1), {
      message: 'fastify-ws-sessions: event name must be 1-64 characters of [A-Za-z0-9_.:-]',
    })
  })
})

describe('unknown events without a fallback', () => {
  it('answers INVALID "unknown event", as a reply or an error frame, and the session lives', async (t) => {
    const server = await startServer({ heartbeatIntervalMs: 0 })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    assert.deepEqual(await client.exchange({ event: 'nobody.home', id: 1 }), {
      id: 1,
      ok: false,
      error: { code: 'INVALID', message: 'unknown event "nobody.home"' },
    })
    assert.deepEqual(await client.exchange({ event: 'nobody.home' }), {
      event: 'error',
      data: { code: 'INVALID', message: 'unknown event "nobody.home"' },
    })
    assert.match(await client.sid(), /^[A-Za-z0-9_-]{22}$/)
    await client.close()
  })
})

describe('onConnect', () => {
  it('runs before any frame of the session is handled, and frames keep their order', async (t) => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const order: string[] = []
    const server = await startServer(
      {
        heartbeatIntervalMs: 0,
        onConnect: async () => {
          order.push('connect:start')
          await gate
          order.push('connect:end')
        },
      },
      (app) => {
        app.wsSessions.handle('step', (_s, data) => {
          order.push(`step:${String(data)}`)
          return data
        })
      },
    )
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    for (let i = 1; i <= 3; i++) client.send({ event: 'step', data: i, id: i })
    await until(() => order.length === 1, { timeoutMs: 3000, what: 'onConnect to start' })
    assert.deepEqual(order, ['connect:start'])
    release()
    for (let i = 1; i <= 3; i++) assert.deepEqual(await client.next(), { id: i, ok: true, data: i })
    assert.deepEqual(order, ['connect:start', 'connect:end', 'step:1', 'step:2', 'step:3'])
    await client.close()
  })
})
