import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it, mock } from 'node:test'
import type { FastifyBaseLogger } from 'fastify'
import { LogThrottle } from '../src/log-throttle.js'

interface Line {
  details: Record<string, unknown>
  msg: string
  from: string
}

/** A logger that records its warn lines, tagged with which logger wrote them. */
function recorder(lines: Line[], from: string): FastifyBaseLogger {
  return {
    warn: (details: Record<string, unknown>, msg: string) => lines.push({ details, msg, from }),
  } as unknown as FastifyBaseLogger
}

describe('LogThrottle: per-event warnings cannot flood the log', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }))
  afterEach(() => mock.timers.reset())

  it('logs the first warning of a kind as it is, counts the rest, and sums them up at the end of the window', () => {
    const lines: Line[] = []
    const throttle = new LogThrottle(recorder(lines, 'node'), 10_000)
    const session = recorder(lines, 'session')
    for (let i = 0; i < 1000; i++) throttle.warn(session, { event: `e${i}` }, 'client event not accepted')
    assert.deepEqual(lines, [{ details: { event: 'e0' }, msg: 'client event not accepted', from: 'session' }])

    mock.timers.tick(10_000)
    assert.equal(lines.length, 2)
    assert.deepEqual(lines[1]?.details, { suppressed: 999, windowMs: 10_000 })
    assert.equal(
      lines[1]?.msg,
      'client event not accepted (999 more in the last 10 s, not logged one by one)',
    )
    assert.equal(lines[1]?.from, 'node')

    // A new window: the next one is logged again, and a lone warning gets no summary.
    throttle.warn(session, { event: 'later' }, 'client event not accepted')
    mock.timers.tick(10_000)
    assert.equal(lines.length, 3)
    assert.deepEqual(lines[2]?.details, { event: 'later' })
  })

  it('keeps one window per kind of warning', () => {
    const lines: Line[] = []
    const throttle = new LogThrottle(recorder(lines, 'node'), 10_000)
    const log = recorder(lines, 'session')
    throttle.warn(log, {}, 'a')
    throttle.warn(log, {}, 'b')
    throttle.warn(log, {}, 'a')
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['a', 'b'],
    )
    throttle.flush()
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['a', 'b', 'a (1 more in the last 10 s, not logged one by one)'],
    )
    // flush() ended the windows: nothing more when their time comes.
    mock.timers.tick(10_000)
    assert.equal(lines.length, 3)
  })
})
