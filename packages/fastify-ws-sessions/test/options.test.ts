import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fastifyWebsocket from '@fastify/websocket'
import Fastify from 'fastify'
import fastifyWsSessionsDefault, {
  DEFAULTS,
  fastifyWsSessions,
  SessionError,
  type WsSessionsOptions,
} from '../src/index.js'

async function registerWith(options: unknown): Promise<void> {
  const app = Fastify({ logger: false })
  try {
    await app.register(fastifyWsSessions, options as WsSessionsOptions)
    await app.ready()
  } finally {
    await app.close()
  }
}

const P = 'fastify-ws-sessions:'

describe('options validation', () => {
  const cases: Array<[string, unknown, string]> = [
    ['unknown option', { maxPayLoad: 1 }, `${P} unknown option "maxPayLoad"`],
    [
      'path without slash',
      { path: 'ws' },
      `${P} option "path" must be a string starting with "/" (got "ws")`,
    ],
    ['path not a string', { path: 5 }, `${P} option "path" must be a string starting with "/" (got 5)`],
    ['maxPayload 0', { maxPayload: 0 }, `${P} option "maxPayload" must be an integer >= 1 (got 0)`],
    ['maxPayload float', { maxPayload: 1.5 }, `${P} option "maxPayload" must be an integer >= 1 (got 1.5)`],
    [
      'maxSessions string',
      { maxSessions: '10' },
      `${P} option "maxSessions" must be an integer >= 1 (got "10")`,
    ],
    [
      'maxBadFrames -1',
      { maxBadFrames: -1 },
      `${P} option "maxBadFrames" must be a non-negative integer (got -1)`,
    ],
    [
      'rateLimit true',
      { rateLimit: true },
      `${P} option "rateLimit" must be false or { ratePerSec, burst, maxViolations } (got true)`,
    ],
    [
      'rateLimit.ratePerSec 0',
      { rateLimit: { ratePerSec: 0, burst: 1, maxViolations: 1 } },
      `${P} option "rateLimit.ratePerSec" must be a positive number (got 0)`,
    ],
    [
      'rateLimit.burst 0',
      { rateLimit: { ratePerSec: 1, burst: 0, maxViolations: 1 } },
      `${P} option "rateLimit.burst" must be an integer >= 1 (got 0)`,
    ],
    [
      'rateLimit.maxViolations -1',
      { rateLimit: { ratePerSec: 1, burst: 1, maxViolations: -1 } },
      `${P} option "rateLimit.maxViolations" must be a non-negative integer (got -1)`,
    ],
    [
      'rateLimit unknown field',
      { rateLimit: { ratePerSec: 1, burst: 1, maxViolations: 1, window: 2 } },
      `${P} option "rateLimit" has an unknown field "window"`,
    ],
    [
      'maxRoomsPerSession -1',
      { maxRoomsPerSession: -1 },
      `${P} option "maxRoomsPerSession" must be a non-negative integer (got -1)`,
    ],
    [
      'maxBufferedBytes 0',
      { maxBufferedBytes: 0 },
      `${P} option "maxBufferedBytes" must be an integer >= 1 (got 0)`,
    ],
    [
      'heartbeatIntervalMs too big',
      { heartbeatIntervalMs: 2 ** 31 },
      `${P} option "heartbeatIntervalMs" must be an integer from 0 to 2147483647 (got 2147483648)`,
    ],
    [
      'allowedOrigins string',
      { allowedOrigins: 'https://a.example' },
      `${P} option "allowedOrigins" must be an array of non-empty strings (got "https://a.example")`,
    ],
    [
      'allowedOrigins with an empty string',
      { allowedOrigins: [''] },
      `${P} option "allowedOrigins" must be an array of non-empty strings (got an array)`,
    ],
    ['authenticate', { authenticate: 'yes' }, `${P} option "authenticate" must be a function (got "yes")`],
    ['onConnect', { onConnect: {} }, `${P} option "onConnect" must be a function (got an object)`],
    ['onDisconnect', { onDisconnect: null }, `${P} option "onDisconnect" must be a function (got null)`],
    ['onEvent', { onEvent: [] }, `${P} option "onEvent" must be a function (got an array)`],
    ['clientKey', { clientKey: 'ip' }, `${P} option "clientKey" must be a function (got "ip")`],
    [
      'maxSessionsPerClient -1',
      { maxSessionsPerClient: -1 },
      `${P} option "maxSessionsPerClient" must be a non-negative integer (got -1)`,
    ],
    [
      'maxSessionsPerClient float',
      { maxSessionsPerClient: 2.5 },
      `${P} option "maxSessionsPerClient" must be a non-negative integer (got 2.5)`,
    ],
    [
      'connectRate true',
      { connectRate: true },
      `${P} option "connectRate" must be false or { perSec, burst } (got true)`,
    ],
    [
      'connectRate.perSec 0',
      { connectRate: { perSec: 0, burst: 1 } },
      `${P} option "connectRate.perSec" must be a positive number (got 0)`,
    ],
    [
      'connectRate.perSec Infinity',
      { connectRate: { perSec: Number.POSITIVE_INFINITY, burst: 1 } },
      `${P} option "connectRate.perSec" must be a positive number (got Infinity)`,
    ],
    [
      'connectRate.burst missing',
      { connectRate: { perSec: 1 } },
      `${P} option "connectRate.burst" must be an integer >= 1 (got undefined)`,
    ],
    [
      'connectRate.burst 0',
      { connectRate: { perSec: 1, burst: 0 } },
      `${P} option "connectRate.burst" must be an integer >= 1 (got 0)`,
    ],
    [
      'connectRate unknown field',
      { connectRate: { perSec: 1, burst: 1, ratePerSec: 2 } },
      `${P} option "connectRate" has an unknown field "ratePerSec"`,
    ],
    [
      'addressConnectRate true',
      { addressConnectRate: true },
      `${P} option "addressConnectRate" must be false or { perSec, burst } (got true)`,
    ],
    [
      'addressConnectRate.burst 0',
      { addressConnectRate: { perSec: 1, burst: 0 } },
      `${P} option "addressConnectRate.burst" must be an integer >= 1 (got 0)`,
    ],
    ['maxClientKeys 0', { maxClientKeys: 0 }, `${P} option "maxClientKeys" must be an integer >= 1 (got 0)`],
    ['maxDepth 0', { maxDepth: 0 }, `${P} option "maxDepth" must be an integer >= 1 (got 0)`],
    [
      'closeTimeoutMs 0',
      { closeTimeoutMs: 0 },
      `${P} option "closeTimeoutMs" must be an integer from 1 to 2147483647 (got 0)`,
    ],
  ]
  for (const [what, options, message] of cases) {
    it(`refuses ${what}`, async () => {
      await assert.rejects(registerWith(options), { name: 'TypeError', message })
    })
  }

  it('accepts no options and every option at once', async () => {
    await registerWith(undefined)
    await registerWith({
      path: '/sock',
      maxPayload: 10,
      maxSessions: 1,
      maxBadFrames: 0,
      rateLimit: false,
      maxRoomsPerSession: 0,
      maxBufferedBytes: 1,
      heartbeatIntervalMs: 0,
      allowedOrigins: ['https://a.example'],
      authenticate: () => ({}),
      onConnect: () => {},
      onDisconnect: () => {},
      onEvent: () => {},
      clientKey: () => 'k',
      maxSessionsPerClient: 1,
      connectRate: { perSec: 0.5, burst: 1 },
      maxClientKeys: 1,
      maxDepth: 1,
      closeTimeoutMs: 1,
    } satisfies WsSessionsOptions)
  })

  it('documents its defaults', () => {
    assert.deepEqual(DEFAULTS, {
      path: '/ws',
      maxPayload: 1_048_576,
      maxSessions: 10_000,
      maxBadFrames: 10,
      rateLimit: { ratePerSec: 100, burst: 200, maxViolations: 50 },
      maxRoomsPerSession: 100,
      maxBufferedBytes: 4_194_304,
      heartbeatIntervalMs: 30_000,
      maxSessionsPerClient: 0,
      connectRate: false,
      addressConnectRate: false,
      maxClientKeys: 100_000,
      maxDepth: 64,
      closeTimeoutMs: 2000,
    })
  })
})

describe('registration', () => {
  it('is a fastify-plugin named fastify-ws-sessions, exported as default and named', () => {
    assert.equal(fastifyWsSessionsDefault, fastifyWsSessions)
    const meta = (fastifyWsSessions as unknown as Record<symbol, { name: string; fastify: string }>)[
      Symbol.for('plugin-meta')
    ]
    assert.equal(meta?.name, 'fastify-ws-sessions')
    assert.equal(meta?.fastify, '5.x')
  })

  it('decorates the instance it is registered on (not encapsulated) with wsSessions', async () => {
    const app = Fastify({ logger: false })
    await app.register(fastifyWsSessions)
    let seenByChild: unknown
    await app.register(async (child) => {
      seenByChild = child.wsSessions
    })
    await app.ready()
    assert.equal(app.wsSessions.size, 0)
    assert.equal(app.wsSessions.closing, false)
    assert.equal(seenByChild, app.wsSessions)
    await app.close()
  })

  it('refuses to register when @fastify/websocket is already registered', async () => {
    const app = Fastify({ logger: false })
    await app.register(fastifyWebsocket)
    await assert.rejects(
      (async () => {
        await app.register(fastifyWsSessions)
        await app.ready()
      })(),
      {
        message:
          'fastify-ws-sessions: @fastify/websocket is already registered; fastify-ws-sessions registers it itself (with maxPayload), so do not register it separately',
      },
    )
    await app.close()
  })
})

describe('SessionError', () => {
  it('carries a code, a message and an optional close code', () => {
    const err = new SessionError('LIMIT', 'too many', { closeCode: 4001 })
    assert.ok(err instanceof Error)
    assert.equal(err.name, 'SessionError')
    assert.equal(err.code, 'LIMIT')
    assert.equal(err.message, 'too many')
    assert.equal(err.closeCode, 4001)
    assert.equal(new SessionError('X', 'y').closeCode, undefined)
  })

  it('refuses an empty code and a close code that cannot be sent', () => {
    assert.throws(() => new SessionError('', 'm'), {
      message: 'SessionError: "code" must be a non-empty string',
    })
    assert.throws(() => new SessionError('X', 'm', { closeCode: 1006 }), {
      message: 'SessionError: invalid close code 1006',
    })
  })
})
