import assert from 'node:assert/strict'
import type { UmMessage } from '@session-gateway/message-schema'
import { until } from '@session-gateway/test-kit'
import { exitWithin, startDeployNodes } from '../helpers/deploy-nodes.js'
import type { FakeUserManager } from '../helpers/fake-user-manager.js'
import { ResumingClient } from '../helpers/resuming-client.js'

export interface RollingDeployOptions {
  clients: number
  /** Pause between one session's EMITs (each waits for its RESULT first). */
  emitIntervalMs: number
  /** EMITs each session must have had answered ok before the SIGTERM, and again after the move. */
  emitsPerPhase: number
}

export interface SessionReport {
  sid: string
  onDrained: boolean
  /** The data of every EMIT answered ok (delivered 1, or kept 1), in order. */
  acked: number[]
  /** The data of every event frame the client received, in order. */
  received: number[]
  duplicates: number
  gaps: number
  resets: string[]
  resumes: number
  /** UM message types about the session, in order. */
  um: string[]
  /** CLIENT_RESUMED's [node, previousNode], if any. */
  resumedFrom: Array<[string, string]>
}

export interface RollingDeployReport {
  exit: { code: number | null; signal: NodeJS.Signals | null }
  drainedNode: string
  otherNode: string
  sessions: SessionReport[]
  /** EMITs answered ok:false (retried): their code. */
  errors: Record<string, number>
  timeouts: number
  emitsAcked: number
}

type Log = (line: string) => void

/** The address each session's node has, as the UM learns it from reply_to (CLIENT_CONNECTED / CLIENT_RESUMED). */
class Holders {
  readonly #address = new Map<string, string>()
  #cursor = 0
  readonly #um: FakeUserManager
  constructor(um: FakeUserManager) {
    this.#um = um
  }
  of(sid: string): string | undefined {
    const received = this.#um.received
    for (; this.#cursor < received.length; this.#cursor++) {
      const m = received[this.#cursor] as { body: UmMessage; replyTo: string | undefined }
      if ((m.body.type === 'CLIENT_CONNECTED' || m.body.type === 'CLIENT_RESUMED') && m.replyTo)
        this.#address.set(m.body.sid, m.replyTo)
    }
    return this.#address.get(sid)
  }
}

/**
 * PROTOCOL.md 4.1's acceptance scenario: two nodes, `clients` sessions split over them, a CI that
 * EMITs to every session steadily (each EMIT after the previous one's RESULT, to the node the UM last
 * heard from; a not-ok answer is retried with the same data), a SIGTERM of one node while it runs;
 * the clients reconnect to the other node with their tokens. Returns what each side saw.
 */
export async function runRollingDeploy(
  options: RollingDeployOptions,
  log: Log,
): Promise<RollingDeployReport> {
  const { um, nodes, stop } = await startDeployNodes(2, { GATEWAY_DRAIN_MS: '30000' })
  const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
  const holders = new Holders(um)
  const clients: Array<{ client: ResumingClient; onDrained: boolean; acked: number[] }> = []
  let running = true
  const errors: Record<string, number> = {}
  let timeouts = 0
  const loops: Array<Promise<void>> = []
  try {
    for (let i = 0; i < options.clients; i++) {
      const onDrained = i % 2 === 0
      // Until it has a session, a client of the drained node tries that node (a failed first attempt too).
      const client: ResumingClient = new ResumingClient(() =>
        onDrained && client.sid === undefined ? a.child.wsUrl : b.child.wsUrl,
      )
      clients.push({ client, onDrained, acked: [] })
    }
    // Opened 100 at a time: a thousand upgrades started at once got "socket hang up" in the first soak run.
    for (let i = 0; i < clients.length; i += 100)
      await Promise.all(clients.slice(i, i + 100).map(({ client }) => client.start()))
    await until(
      () => clients.every(({ client }) => client.sid !== undefined && holders.of(client.sid) !== undefined),
      { timeoutMs: 30_000, what: 'every CLIENT_CONNECTED' },
    )
    log(`${clients.length} sessions open on ${a.nodeId} and ${b.nodeId}`)
    for (const entry of clients) {
      loops.push(
        (async () => {
          const sid = entry.client.sid as string
          let n = 1
          while (running) {
            const address = holders.of(sid) as string
            let answer: Awaited<ReturnType<FakeUserManager['request']>> | undefined
            try {
              answer = await um.request(address, { type: 'EMIT', v: 1, sid, event: 'tick', data: n }, 10_000)
            } catch {
              timeouts++
              return
            }
            const data = answer.ok ? (answer.data as { delivered?: number; kept?: number }) : undefined
            if (data && (data.delivered === 1 || data.kept === 1)) {
              entry.acked.push(n)
              n++
            } else {
              const code = answer.ok ? 'delivered0' : answer.error.code
              errors[code] = (errors[code] ?? 0) + 1
            }
            await new Promise((resolve) => setTimeout(resolve, options.emitIntervalMs))
          }
        })(),
      )
    }
    await until(() => clients.every((c) => c.acked.length >= options.emitsPerPhase), {
      timeoutMs: 60_000,
      what: 'the steady EMITs before the deploy',
    })
    log(`SIGTERM to ${a.nodeId}`)
    a.child.child.kill('SIGTERM')
    const drained = clients.filter((c) => c.onDrained)
    await until(() => drained.every((c) => c.client.resumes >= 1 || c.client.resets.length > 0), {
      timeoutMs: 60_000,
      what: 'every client of the drained node back',
    })
    const exit = await exitWithin(a, 60_000)
    log(`${a.nodeId} exited ${JSON.stringify(exit)}`)
    const marks = clients.map((c) => c.acked.length)
    await until(
      () => clients.every((c, i) => c.acked.length >= (marks[i] as number) + options.emitsPerPhase),
      { timeoutMs: 60_000, what: 'the steady EMITs after the deploy' },
    )
    running = false
    await Promise.all(loops)
    await until(() => clients.every((c) => c.client.events.length >= c.acked.length), {
      timeoutMs: 30_000,
      what: 'every acknowledged EMIT at its client',
    })
    // Everything the UM hears about these sessions came before a later message of the same node.
    const sessions: SessionReport[] = clients.map(({ client, onDrained, acked }) => {
      const sid = client.sid as string
      const about = um.received.filter((m) => 'sid' in m.body && m.body.sid === sid)
      return {
        sid,
        onDrained,
        acked,
        received: client.events.map((e) => e.data as number),
        duplicates: client.duplicates,
        gaps: client.gaps,
        resets: client.resets,
        resumes: client.resumes,
        um: about.map((m) => m.body.type),
        resumedFrom: about.flatMap((m) =>
          m.body.type === 'CLIENT_RESUMED' ? [[m.body.node, m.body.previousNode] as [string, string]] : [],
        ),
      }
    })
    const emitsAcked = clients.reduce((sum, c) => sum + c.acked.length, 0)
    log(`${emitsAcked} EMITs answered ok; not-ok answers ${JSON.stringify(errors)}; timeouts ${timeouts}`)
    return { exit, drainedNode: a.nodeId, otherNode: b.nodeId, sessions, errors, timeouts, emitsAcked }
  } finally {
    running = false
    await Promise.allSettled(loops)
    for (const { client } of clients) client.terminate()
    await stop()
  }
}

/** PROTOCOL.md 4.1: zero loss, zero duplicates, CLIENT_RESUMED rather than disconnect + connect, exit 0. */
export function assertInvisibleDeploy(report: RollingDeployReport): void {
  assert.deepEqual(report.exit, { code: 0, signal: null }, 'the drained node exits 0')
  assert.equal(report.timeouts, 0, 'every EMIT was answered')
  assert.deepEqual(report.errors, {}, 'no EMIT was refused during the deploy (the CI had nothing to retry)')
  // Every session a resume reset, with what the UM and the client saw: one line each, for the diagnosis.
  const reset = report.sessions
    .filter((s) => s.resets.length > 0)
    .map(
      (s) => `${s.sid} drained=${s.onDrained} resets=${s.resets} resumes=${s.resumes} um=${s.um.join(',')}`,
    )
  for (const s of report.sessions) {
    const what = `session ${s.sid} (${s.onDrained ? 'on the drained node' : 'on the other node'})`
    assert.deepEqual(
      s.resets,
      [],
      `${what}: no resume gave a new session (${reset.length} reset: ${reset.slice(0, 5).join('; ')})`,
    )
    assert.equal(s.duplicates, 0, `${what}: no frame twice`)
    assert.equal(s.gaps, 0, `${what}: no seq skipped`)
    assert.deepEqual(s.received, s.acked, `${what}: every EMIT answered ok arrived once, in order`)
    if (s.onDrained) {
      assert.deepEqual(s.um, ['CLIENT_CONNECTED', 'CLIENT_DETACHED', 'CLIENT_RESUMED'], what)
      assert.deepEqual(s.resumedFrom, [[report.otherNode, report.drainedNode]], what)
      assert.equal(s.resumes, 1, what)
    } else {
      assert.deepEqual(s.um, ['CLIENT_CONNECTED'], what)
    }
  }
}
