import assert from 'node:assert/strict'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { until } from '@session-gateway/test-kit'
import rhea, { type Message } from 'rhea'
import WebSocket from 'ws'
import { deleteQueues, unique } from '../helpers/broker.js'
import { CiPeer } from '../helpers/ci-peer.js'
import { BROKER_URL } from '../helpers/fake-user-manager.js'
import {
  type CiCase,
  expectFrame,
  generateCi,
  generateFrame,
  isForwarded,
  type WsExpectation,
  type WsFrame,
} from '../helpers/fuzz.js'
import { type StartedGateway, startGateway } from '../helpers/gateway.js'
import { Prng } from '../helpers/prng.js'
import { ResilientUserManager } from '../helpers/resilient-um.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

export interface FuzzParams {
  frames: number
  amqpBodies: number
  /** Sessions are rotated after this many frames (and whenever a frame closes one). */
  framesPerSession: number
  maxPayload: number
  /** Frames sent before waiting for their answers. */
  batch: number
  /** Bounds over the run, measured after a forced GC between the first 10% and the end. */
  heapGrowthBoundBytes: number
  rssGrowthBoundBytes: number
}

export interface FuzzReport {
  seed: number
  frames: number
  byCategory: Record<string, number>
  sessions: number
  closes: Record<string, number>
  errorAnswers: Record<string, number>
  okReplies: number
  silent: number
  forwardedToUm: number
  amqp: {
    bodies: number
    byCategory: Record<string, number>
    results: Record<string, number>
    rejected: number
    accepted: number
    observerEvents: number
  }
  heapMb: { warm: number; end: number }
  rssMb: { warm: number; end: number; peak: number }
  elapsedMs: number
  wsMs: number
}

interface Pending {
  exp: WsExpectation
  what: string
}

/** A fuzzing client session that knows what each frame must get and checks every answer. */
class FuzzSession {
  readonly errorsExpected: Pending[] = []
  readonly repliesExpected = new Map<string, Pending[]>()
  sidEventsExpected = 0
  sent = 0
  closed: { code: number } | undefined
  #waiters: Array<() => void> = []

  private constructor(
    readonly ws: WebSocket,
    onAnswer: (kind: string) => void,
    mismatch: (text: string) => void,
  ) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        mismatch('binary frame from the gateway')
        return
      }
      let frame: {
        event?: string
        id?: unknown
        ok?: boolean
        data?: { code?: string }
        error?: { code?: string }
      }
      try {
        frame = JSON.parse(data.toString())
      } catch {
        mismatch(`non-JSON frame from the gateway: ${data.toString().slice(0, 100)}`)
        return
      }
      if (frame.event === 'error' && frame.id === undefined) {
        const pending = this.errorsExpected.shift()
        const code = frame.data?.code ?? '?'
        onAnswer(code)
        if (pending?.exp.type !== 'error') mismatch(`unexpected error frame ${code}`)
        else if (pending.exp.code !== code && pending.exp.alt !== code) {
          mismatch(`error ${code}, expected ${pending.exp.code} for ${pending.what}`)
        }
      } else if (frame.id !== undefined && frame.ok !== undefined) {
        const key = JSON.stringify(frame.id)
        const outcome = frame.ok ? 'ok' : (frame.error?.code ?? '?')
        onAnswer(outcome)
        const list = this.repliesExpected.get(key)
        const index = list?.findIndex((p) => p.exp.type === 'reply' && p.exp.outcome === outcome) ?? -1
        if (!list || index < 0) mismatch(`unexpected reply ${key} ${outcome}`)
        else {
          list.splice(index, 1)
          if (list.length === 0) this.repliesExpected.delete(key)
        }
      } else if (frame.event === 'GET_SID') {
        if (this.sidEventsExpected-- <= 0) mismatch('unexpected GET_SID event')
      } else mismatch(`unexpected frame ${JSON.stringify(frame).slice(0, 200)}`)
      this.#wake()
    })
    ws.on('close', (code) => {
      this.closed = { code }
      this.#wake()
    })
    ws.on('error', () => {})
  }

  static async open(url: string, onAnswer: (kind: string) => void, mismatch: (t: string) => void) {
    const ws = new WebSocket(url)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    return new FuzzSession(ws, onAnswer, mismatch)
  }

  #wake(): void {
    const w = this.#waiters
    this.#waiters = []
    for (const f of w) f()
  }

  get outstanding(): number {
    let n = this.errorsExpected.length + this.sidEventsExpected
    for (const list of this.repliesExpected.values()) n += list.length
    return n
  }

  send(frame: WsFrame, exp: WsExpectation): void {
    const what = `${frame.category} ${JSON.stringify(frame.bytes.subarray(0, 120).toString('utf8'))}`
    if (exp.type === 'error') this.errorsExpected.push({ exp, what })
    else if (exp.type === 'reply') {
      this.repliesExpected.set(exp.idKey, [...(this.repliesExpected.get(exp.idKey) ?? []), { exp, what }])
    } else if (exp.type === 'sid-event') this.sidEventsExpected++
    this.sent++
    this.ws.send(frame.bytes, { binary: frame.kind === 'binary' })
  }

  /** Waits until every frame sent got its answer; anything missing after the deadline is silence. */
  async drain(timeoutMs = 15_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs
    while (this.outstanding > 0 && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200)
        this.#waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
    const silent = [
      ...this.errorsExpected.map((p) => p.what),
      ...[...this.repliesExpected.values()].flat().map((p) => p.what),
      ...(this.sidEventsExpected > 0 ? ['GET_SID event'] : []),
    ]
    return silent
  }

  async waitClosed(timeoutMs = 10_000): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200)
        this.#waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
    return this.closed?.code
  }

  close(): void {
    if (!this.closed) this.ws.close(1000)
  }
}

function ciMessage(
  c: CiCase,
  id: number,
  prng: Prng,
  replyTo: string,
  missing: string,
): { message: Message; key?: string } {
  let body: unknown
  switch (c.body.section) {
    case 'data':
      body = rhea.message.data_section(c.body.bytes)
      break
    case 'sequence':
      body = rhea.message.sequence_section(c.body.value)
      break
    case 'value':
      body = c.body.value
      break
    default:
      body = undefined
  }
  const idStyle = prng.weighted<string>([
    [80, 'string'],
    [10, 'number'],
    [10, 'correlation-only'],
  ])
  // A numeric message_id must be an AMQP ulong (an int is not a valid message-id type).
  const numeric = 1_000_000_000 + id
  const messageId =
    idStyle === 'string' ? `fuzz-${id}` : idStyle === 'number' ? rhea.types.wrap_ulong(numeric) : undefined
  const correlationId = idStyle === 'correlation-only' ? `corr-${id}` : undefined
  const reply = prng.weighted<string>([
    [88, 'reply'],
    [10, 'none'],
    [2, 'missing-queue'],
  ])
  const message: Message = {
    body,
    message_id: messageId as unknown as string,
    ...(correlationId ? { correlation_id: correlationId } : {}),
    ...(prng.chance(0.9)
      ? { content_type: 'application/json' }
      : prng.chance(0.5)
        ? { content_type: 'text/plain' }
        : {}),
    ...(prng.chance(0.8) ? { subject: prng.pick(['EMIT', 'PING', 'RESULT', 'x'.repeat(300), '']) } : {}),
    ...(reply === 'reply' ? { reply_to: replyTo } : reply === 'missing-queue' ? { reply_to: missing } : {}),
  }
  const key =
    reply === 'reply'
      ? idStyle === 'number'
        ? String(numeric)
        : String(messageId ?? correlationId)
      : undefined
  return key === undefined ? { message } : { message, key }
}

/**
 * Fuzzes a node in this process: `frames` generated frames at /ws (checked one by one against an
 * oracle written from PROTOCOL.md) and `amqpBodies` generated AMQP bodies at the node address,
 * with listeners that fail the run on any unhandled rejection or uncaught exception.
 */
export async function runFuzz(params: FuzzParams, log: (line: string) => void): Promise<FuzzReport> {
  const prng = Prng.fromEnv('FUZZ_SEED')
  // Printed first, so that a crash still tells how to replay it.
  console.log(`# fuzz seed ${prng.seed} (replay: FUZZ_SEED=${prng.seed})`)
  log(`FUZZ_SEED=${prng.seed}`)
  const faults: string[] = []
  const onRejection = (reason: unknown) =>
    faults.push(`unhandledRejection: ${String((reason as Error)?.stack ?? reason)}`)
  const onException = (err: Error) => faults.push(`uncaughtException: ${err.stack ?? String(err)}`)
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)

  const umQueue = unique('fuzz-um')
  const nodeId = unique('fuzz-node')
  const missingQueue = unique('fuzz-missing')
  const um = new ResilientUserManager(BROKER_URL, umQueue, false)
  let markerSeen = ''
  um.onMessage = (m) => {
    if (m.type === 'CLIENT_EVENT' && m.event === 'fuzz.marker') markerSeen = String(m.requestId)
  }
  let gw: StartedGateway | undefined
  let ci: CiPeer | undefined
  // Open sessions only (closed ones are dropped, so that the run's own memory stays flat).
  const sessions = new Set<FuzzSession>()
  let sessionCount = 0
  const t0 = Date.now()
  try {
    um.start()
    await until(() => um.connections > 0, { timeoutMs: 10_000, what: 'the UM consumer' })
    gw = await startGateway({
      AMQP_URL: BROKER_URL,
      UM_ADDRESS: `/queue/${umQueue}`,
      BROADCAST_ADDRESS: `/topic/${unique('fuzz-bc')}`,
      GATEWAY_NODE_ID: nodeId,
      SESSION_MAX_PAYLOAD: String(params.maxPayload),
      // Bad frames are the point here: a budget no run reaches, and no rate limit (both are tested
      // on their own in flood.test.ts). Sessions are still rotated (see framesPerSession).
      SESSION_MAX_BAD_FRAMES: '1000000000',
      SESSION_RATE_PER_SEC: '0',
    })
    const gateway = gw
    await until(() => gateway.gateway.backend.state === 'open', {
      timeoutMs: 10_000,
      what: 'broker link open',
    })

    // ---- WebSocket frames ----
    const byCategory: Record<string, number> = {}
    const closes: Record<string, number> = {}
    const answers: Record<string, number> = {}
    const mismatches: string[] = []
    const silent: string[] = []
    let forwarded = 0
    let idCounter = 0
    const counter = () => idCounter++
    const onAnswer = (kind: string) => {
      answers[kind] = (answers[kind] ?? 0) + 1
    }
    const mismatch = (t: string) => {
      if (mismatches.length < 50) mismatches.push(t)
    }
    const open = async () => {
      const s = await FuzzSession.open(gateway.wsUrl, onAnswer, mismatch)
      sessions.add(s)
      sessionCount++
      s.ws.once('close', () => sessions.delete(s))
      return s
    }
    let session = await open()
    let warm: { heap: number; rss: number } | undefined
    let rssPeak = 0
    for (let i = 0; i < params.frames; i++) {
      if (i === Math.floor(params.frames / 10)) {
        silent.push(...(await session.drain()))
        gc()
        warm = { heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss }
      }
      const frame = generateFrame(prng, params.maxPayload, counter)
      const exp = expectFrame(frame, params.maxPayload)
      byCategory[frame.category] = (byCategory[frame.category] ?? 0) + 1
      if (isForwarded(frame, exp)) forwarded++
      if (exp.type === 'close') {
        // Wait for every earlier answer first: a request still waiting for the broker when its
        // session closes gets no reply.
        silent.push(...(await session.drain()))
        session.send(frame, exp)
        const code = await session.waitClosed()
        closes[String(code)] = (closes[String(code)] ?? 0) + 1
        if (code !== exp.code) mismatch(`close ${code}, expected ${exp.code} for ${frame.category}`)
        session = await open()
        continue
      }
      if (session.closed) mismatch(`session closed (${session.closed.code}) unexpectedly`)
      session.send(frame, exp)
      if (session.sent % params.batch === 0) {
        silent.push(...(await session.drain()))
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
      }
      if (session.sent >= params.framesPerSession) {
        silent.push(...(await session.drain()))
        session.close()
        const code = await session.waitClosed()
        closes[String(code)] = (closes[String(code)] ?? 0) + 1
        session = await open()
      }
    }
    silent.push(...(await session.drain()))
    assert.deepEqual(mismatches, [], 'every frame got the answer PROTOCOL.md gives it')
    assert.deepEqual(silent.slice(0, 20), [], `${silent.length} frames got no answer`)
    assert.equal(session.closed, undefined)
    const wsMs = Date.now() - t0

    // The UM got exactly the valid frames (besides GET_SID): a marker sent last, on the node's one
    // UM link (which keeps order), arrives after all of them.
    const markerId = `marker-${prng.seed}`
    session.ws.send(JSON.stringify({ event: 'fuzz.marker', id: markerId }))
    await until(() => markerSeen === markerId, { timeoutMs: 60_000, what: 'the marker at the UM' })
    const umEvents = (um.countsByType.CLIENT_EVENT ?? 0) - 1
    assert.equal(umEvents, forwarded, 'CLIENT_EVENTs at the UM = valid frames sent')

    // ---- AMQP bodies at the node address ----
    const observer = session
    const observerSid = await new Promise<string>((resolve) => {
      const onMessage = (data: WebSocket.RawData) => {
        const f = JSON.parse(data.toString()) as { id?: string; data?: { sid?: string } }
        if (f.id === 'observer-sid') {
          observer.ws.off('message', onMessage)
          resolve(f.data?.sid ?? '')
        }
      }
      observer.ws.on('message', onMessage)
      observer.repliesExpected.set('"observer-sid"', [
        { exp: { type: 'reply', idKey: '"observer-sid"', outcome: 'ok' }, what: 'GET_SID' },
      ])
      observer.ws.send(JSON.stringify({ event: 'GET_SID', id: 'observer-sid' }))
    })
    let observerEvents = 0
    // From here on, the observer only counts the event frames the CI sends it.
    observer.ws.removeAllListeners('message')
    observer.ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as { event?: string; id?: unknown }
      if (f.id === undefined && f.event !== undefined) observerEvents++
    })
    ci = await CiPeer.start()
    const nodeAddress = gateway.gateway.backend.nodeReplyTo
    const settledBefore = { ...gateway.gateway.backend.stats().settlements }
    const expected = new Map<string, CiCase>()
    const amqpByCategory: Record<string, number> = {}
    let expectRejected = 0
    let expectObserver = 0
    for (let i = 0; i < params.amqpBodies; i++) {
      const c = generateCi(prng, observerSid)
      amqpByCategory[c.category] = (amqpByCategory[c.category] ?? 0) + 1
      if (c.rejected) expectRejected++
      if (c.toObserver) expectObserver++
      const { message, key } = ciMessage(c, i, prng, ci.replyTo, `/amq/queue/${missingQueue}`)
      if (key !== undefined) expected.set(key, c)
      await ci.send(nodeAddress, message, 100)
    }
    const peer = ci
    await peer.waitUntil(
      () => [...expected.keys()].every((k) => peer.results.has(k)),
      120_000,
      'every RESULT',
    )
    // A last PING: once its RESULT is back, every earlier message was handled and answered.
    const ping = await peer.request(nodeAddress, { type: 'PING', v: 1 }, 30_000)
    assert.equal(ping.ok, true)
    const results: Record<string, number> = {}
    const wrong: string[] = []
    for (const [key, c] of expected) {
      const got = peer.results.get(key) ?? []
      if (got.length !== 1) wrong.push(`${key} ${c.category}: ${got.length} RESULTs`)
      const r = got[0]
      const outcome = r ? (r.ok ? 'ok' : r.error.code) : 'none'
      results[outcome] = (results[outcome] ?? 0) + 1
      if (!c.expected.includes(outcome)) {
        wrong.push(
          `${key} ${c.category}: ${outcome}, expected ${c.expected.join('|')} for ${JSON.stringify(c.body).slice(0, 160)}`,
        )
      }
    }
    assert.deepEqual(wrong.slice(0, 20), [], `${wrong.length} CI messages got the wrong RESULT`)
    assert.deepEqual(peer.badResults, [], 'every RESULT decodes')
    // Settlements: every message settled once; exactly the undecodable/invalid ones rejected.
    const settled = () => {
      const now = gateway.gateway.backend.stats().settlements
      return {
        accepted: (now.accepted ?? 0) - (settledBefore.accepted ?? 0),
        rejected: (now.rejected ?? 0) - (settledBefore.rejected ?? 0),
      }
    }
    await until(() => settled().accepted + settled().rejected >= params.amqpBodies + 1, {
      timeoutMs: 30_000,
      what: 'every CI message settled',
    })
    assert.equal(settled().rejected, expectRejected, 'settled rejected = undecodable or invalid bodies')
    assert.equal(settled().accepted, params.amqpBodies + 1 - expectRejected)
    await until(() => observerEvents >= expectObserver, { timeoutMs: 30_000, what: 'the observer events' })
    assert.equal(
      observerEvents,
      expectObserver,
      'the observer got exactly the EMITs and BROADCASTs aimed at it',
    )

    // ---- the node is fine ----
    peer.results.clear()
    expected.clear()
    gc()
    const end = { heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss }
    const fresh = await open()
    fresh.send(
      { kind: 'text', bytes: Buffer.from('{"event":"after.fuzz","id":1}'), category: 'final' },
      { type: 'reply', idKey: '1', outcome: 'ok' },
    )
    assert.deepEqual(await fresh.drain(), [])
    assert.deepEqual(faults, [], 'no unhandled rejection, no uncaught exception')
    const w = warm ?? end
    const report: FuzzReport = {
      seed: prng.seed,
      frames: params.frames,
      byCategory,
      sessions: sessionCount,
      closes,
      errorAnswers: Object.fromEntries(Object.entries(answers).filter(([k]) => k !== 'ok')),
      okReplies: answers.ok ?? 0,
      silent: silent.length,
      forwardedToUm: umEvents,
      amqp: {
        bodies: params.amqpBodies,
        byCategory: amqpByCategory,
        results,
        rejected: settled().rejected,
        accepted: settled().accepted,
        observerEvents,
      },
      heapMb: { warm: Math.round(w.heap / 1e5) / 10, end: Math.round(end.heap / 1e5) / 10 },
      rssMb: {
        warm: Math.round(w.rss / 1e5) / 10,
        end: Math.round(end.rss / 1e5) / 10,
        peak: Math.round(rssPeak / 1e5) / 10,
      },
      elapsedMs: Date.now() - t0,
      wsMs,
    }
    log(JSON.stringify(report))
    assert.ok(
      end.heap - w.heap < params.heapGrowthBoundBytes,
      `heap after GC grew ${((end.heap - w.heap) / 1e6).toFixed(1)} MB`,
    )
    assert.ok(
      end.rss - w.rss < params.rssGrowthBoundBytes,
      `RSS grew ${((end.rss - w.rss) / 1e6).toFixed(1)} MB`,
    )
    return report
  } finally {
    for (const s of sessions) s.ws.terminate()
    await gw?.gateway.close()
    await ci?.close()
    await um.stop()
    await deleteQueues([umQueue, `gateway.node.${nodeId}`, missingQueue, ...(ci ? [ci.replyQueue] : [])])
    process.off('unhandledRejection', onRejection)
    process.off('uncaughtException', onException)
  }
}
