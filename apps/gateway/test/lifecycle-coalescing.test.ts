import assert from 'node:assert/strict'
import { afterEach, describe, it, mock } from 'node:test'
import type { FastifyBaseLogger } from 'fastify'
import type { Session } from 'fastify-ws-sessions'
import type { Backend, UmSendOptions } from '../src/backend/types.js'
import { loadConfig } from '../src/config/load-config.js'
import { LogThrottle } from '../src/log-throttle.js'
import { sessionOptions } from '../src/sessions-wiring.js'

const silent = {
  warn() {},
  info() {},
  error() {},
  debug() {},
  child: () => silent,
} as unknown as FastifyBaseLogger

/** The lifecycle hooks over a backend that records what each send to the UM asked for. */
function wired(env: Record<string, string>) {
  const sends: Array<{ type: string; options: UmSendOptions | undefined }> = []
  const backend = {
    sendToUserManager(body: { type: string }, options?: UmSendOptions) {
      sends.push({ type: body.type, options })
      return Promise.resolve()
    },
  } as unknown as Backend
  const options = sessionOptions(loadConfig(env), {
    backend,
    nodeId: 'node-a',
    log: silent,
    warnings: new LogThrottle(silent),
  })
  return { options, sends }
}

let sidCount = 0
function session(): Session {
  return { sid: `sid-${++sidCount}`, remoteAddress: '127.0.0.1', log: silent } as unknown as Session
}

/** A clock the burst detector reads (performance.now), moved by hand. */
function clock(): { advance: (ms: number) => void } {
  let now = 1_000
  mock.method(performance, 'now', () => now)
  return { advance: (ms) => (now += ms) }
}

describe('lifecycle messages in a burst (GATEWAY_LIFECYCLE_COALESCE_MS)', () => {
  afterEach(() => mock.restoreAll())

  it('a lone connect is sent at once; one within 2 ms of the last holds the writes 25 ms (the default)', async () => {
    const time = clock()
    const { options, sends } = wired({})
    await options.onConnect?.(session())
    time.advance(1.9)
    await options.onConnect?.(session())
    time.advance(1.9)
    await options.onConnect?.(session())
    time.advance(2)
    await options.onConnect?.(session())
    assert.deepEqual(
      sends.map((s) => s.options),
      [undefined, { coalesceMs: 25 }, { coalesceMs: 25 }, undefined],
      'alone, in the burst, in the burst, 2 ms after the last: alone again',
    )
  })

  it('resumes and disconnects count in the same burst as connects, each kind coalesced', async () => {
    const time = clock()
    const { options, sends } = wired({ GATEWAY_LIFECYCLE_COALESCE_MS: '40' })
    const a = session()
    const b = session()
    await options.onConnect?.(a)
    time.advance(10)
    await options.onConnect?.(b)
    time.advance(0.5)
    await options.onDisconnect?.(a, 1000, 'bye')
    time.advance(0.5)
    await options.onResume?.(b, { previousNode: 'node-b', replayed: 0 })
    time.advance(0.5)
    await options.onDetach?.(b, 1006, '')
    assert.deepEqual(
      sends.map((s) => [s.type, s.options]),
      [
        ['CLIENT_CONNECTED', undefined],
        ['CLIENT_CONNECTED', undefined],
        ['CLIENT_DISCONNECTED', { coalesceMs: 40 }],
        ['CLIENT_RESUMED', { coalesceMs: 40 }],
        ['CLIENT_DETACHED', { coalesceMs: 40 }],
      ],
    )
  })

  it('0 turns the hold off: nothing is ever held, however close together', async () => {
    clock()
    const { options, sends } = wired({ GATEWAY_LIFECYCLE_COALESCE_MS: '0' })
    for (let i = 0; i < 5; i++) await options.onConnect?.(session())
    assert.deepEqual(
      sends.map((s) => s.options),
      [undefined, undefined, undefined, undefined, undefined],
    )
  })
})
