import { createHmac, randomUUID } from 'node:crypto'
import type { Receiver, Sender } from 'rhea'
import WebSocket from 'ws'
import { jsonBody, jsonMessage, openConnection, senderOpen } from '../lib/amqp.js'
import { ADMIN_TOKEN, gatewayEnv, queueMarker } from '../lib/gateway.js'
import { GatewayProcess } from '../lib/gateway-process.js'
import { type LatencySummary, newHistogram, recordMs, summarize } from '../lib/histogram.js'
import { freePort } from '../lib/ports.js'
import { stopAll } from '../lib/procs.js'
import { deleteQueuesContaining } from '../lib/rabbitmq.js'
import { bestBy, interleaved } from '../lib/rounds.js'
import { type BenchSettings, figure, type ScenarioResult } from '../lib/types.js'

const NODES = 2
const SESSIONS_PER_NODE = 5
const SECRET = randomUUID() + randomUUID()
const USER = 'bench-user'

/** An HS256 JWT for `sub` (the gateways verify it with AUTH_JWT_SECRET). */
function jwtFor(sub: string): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, exp: Math.floor(Date.now() / 1000) + 3600 })}`
  return `${head}.${createHmac('sha256', SECRET).update(head).digest('base64url')}`
}

interface Round {
  /** From the send of the first AMQP message to the last of the 10 sessions having the frame. */
  fanoutLatency: LatencySummary
  fanouts: number
  perSec: number
}

/**
 * B5: EMIT_USER of a small event to one user holding 5 sessions on each of 2 nodes, sent to the
 * broadcast address (one RESULT per node, delivered 5 + 5), one fan-out at a time: latency from the
 * send to the last session having the frame, p50/p99. Baseline: what a backend had to do before
 * PROTOCOL.md 4.2, keeping its own user -> sessions map: 10 EMITs by SID, each to its node's address,
 * sent at once. Both sides check every RESULT.
 */
export async function b5EmitUser(settings: BenchSettings): Promise<ScenarioResult> {
  const started = performance.now()
  const marker = queueMarker(settings, 'B5')
  const broadcast = `/topic/${marker}-broadcast`
  const gateways: GatewayProcess[] = []
  const sockets: WebSocket[] = []
  const connection = await openConnection('b5-ci')
  try {
    settings.log(`B5: starting ${NODES} gateway nodes (JWT auth on)`)
    for (let n = 0; n < NODES; n++) {
      const port = await freePort()
      gateways.push(
        await GatewayProcess.start({
          name: `B5-gateway-${n}`,
          port,
          env: {
            ...gatewayEnv(settings, 'B5', port),
            GATEWAY_NODE_ID: `${marker}-${n}`,
            BROADCAST_ADDRESS: broadcast,
            AUTH_JWT_SECRET: SECRET,
            // 10 sessions; the shared 20,000 no longer fits a default open-file limit (the node refuses it).
            SESSION_MAX: '1000',
          },
          adminToken: ADMIN_TOKEN,
        }),
      )
    }

    // Each frame a session receives: the seq it carries, when.
    const pending = new Map<number, { left: number; done: () => void }>()
    const sidsByNode: string[][] = []
    for (const gw of gateways) {
      const sids: string[] = []
      for (let i = 0; i < SESSIONS_PER_NODE; i++) {
        const ws = new WebSocket(`${gw.wsUrl}?access_token=${jwtFor(USER)}`)
        sockets.push(ws)
        await new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve())
          ws.once('error', reject)
        })
        const sid = await new Promise<string>((resolve) => {
          ws.once('message', (data) =>
            resolve((JSON.parse(String(data)) as { data: { sid: string } }).data.sid),
          )
          ws.send(JSON.stringify({ event: 'GET_SID', id: 1 }))
        })
        ws.on('message', (data) => {
          const frame = JSON.parse(String(data)) as { event?: string; data?: { seq?: number } }
          if (frame.event !== 'b5') return
          const entry = pending.get(Number(frame.data?.seq))
          if (entry && --entry.left === 0) entry.done()
        })
        sids.push(sid)
      }
      sidsByNode.push(sids)
    }

    const resultsQueue = `${marker}-results`
    const receiver: Receiver = connection.open_receiver({ source: { address: `/queue/${resultsQueue}` } })
    await new Promise((resolve) => receiver.once('receiver_open', resolve))
    const results = new Map<string, Array<Record<string, unknown>>>()
    const resultWaiters = new Map<string, { want: number; done: () => void }>()
    receiver.on('message', (ctx) => {
      const key = String(ctx.message?.correlation_id)
      const list = [...(results.get(key) ?? []), jsonBody(ctx.message as never)]
      results.set(key, list)
      const w = resultWaiters.get(key)
      if (w && list.length >= w.want) w.done()
    })
    const senders = new Map<string, Sender>()
    const sender = async (address: string) => {
      let s = senders.get(address)
      if (!s) {
        s = connection.open_sender({ target: { address } })
        senders.set(address, s)
        await senderOpen(s)
      }
      return s
    }
    const nodeAddress = (n: number) => `/amq/queue/gateway.node.${marker}-${n}`
    for (const address of [broadcast, nodeAddress(0), nodeAddress(1)]) await sender(address)

    /** Sends `bodies` (address, body) at once; resolves when every session got seq and every RESULT came. */
    const fanout = async (
      seq: number,
      bodies: Array<[string, { type: string } & Record<string, unknown>]>,
      resultsPerBody: number,
    ) => {
      const frames = new Promise<void>((done) => pending.set(seq, { left: NODES * SESSIONS_PER_NODE, done }))
      const answered: Array<Promise<void>> = []
      const ids: string[] = []
      const t0 = performance.now()
      for (const [address, body] of bodies) {
        const message = jsonMessage(body, { reply_to: `/amq/queue/${resultsQueue}` })
        const id = String(message.message_id)
        ids.push(id)
        answered.push(new Promise<void>((done) => resultWaiters.set(id, { want: resultsPerBody, done })))
        ;(await sender(address)).send(message)
      }
      await frames
      const ms = performance.now() - t0
      await Promise.all(answered)
      pending.delete(seq)
      let delivered = 0
      for (const id of ids) {
        for (const r of results.get(id) ?? []) {
          if (r.ok !== true) throw new Error(`B5: RESULT ${JSON.stringify(r)}`)
          delivered += Number((r.data as { delivered?: number }).delivered)
        }
        results.delete(id)
        resultWaiters.delete(id)
      }
      if (delivered !== NODES * SESSIONS_PER_NODE) throw new Error(`B5: delivered ${delivered}`)
      return ms
    }

    let seq = 0
    const round = async (
      bodiesFor: (s: number) => Array<[string, { type: string } & Record<string, unknown>]>,
      perBody: number,
    ): Promise<Round> => {
      const h = newHistogram()
      const warmEnd = performance.now() + settings.warmupMs
      while (performance.now() < warmEnd) await fanout(++seq, bodiesFor(seq), perBody)
      const start = performance.now()
      let n = 0
      while (performance.now() - start < settings.durationMs) {
        recordMs(h, await fanout(++seq, bodiesFor(seq), perBody))
        n++
      }
      const elapsed = performance.now() - start
      const summary = summarize(h)
      h.destroy()
      return { fanoutLatency: summary, fanouts: n, perSec: n / (elapsed / 1000) }
    }
    const data = (s: number) => ({ seq: s, text: 'x'.repeat(64) })
    const rounds = await interleaved<Round>(
      settings.rounds,
      {
        gateway: () =>
          round(
            (s) => [[broadcast, { type: 'EMIT_USER', v: 1, user: USER, event: 'b5', data: data(s) }]],
            NODES,
          ),
        baseline: () =>
          round(
            (s) =>
              sidsByNode.flatMap((sids, n) =>
                sids.map((sid): [string, { type: string } & Record<string, unknown>] => [
                  nodeAddress(n),
                  { type: 'EMIT', v: 1, sid, event: 'b5', data: data(s) },
                ]),
              ),
            1,
          ),
      },
      settings.log,
    )
    // The best round is the one with the lowest p50 (least disturbed by the rest of the machine).
    const gateway = bestBy(rounds.gateway, (r) => -r.fanoutLatency.p50Ms)
    const baseline = bestBy(rounds.baseline, (r) => -r.fanoutLatency.p50Ms)
    const sessions = NODES * SESSIONS_PER_NODE
    return {
      id: 'B5',
      title: `EMIT_USER to one user with ${SESSIONS_PER_NODE} sessions on each of ${NODES} nodes (broadcast address, one at a time)`,
      baseline: `${sessions} EMITs by SID to the nodes' addresses (the backend keeps the user -> sessions map)`,
      figures: [
        figure(
          'B5',
          'fan-out p50 (send to last session)',
          'ms',
          gateway.fanoutLatency.p50Ms,
          baseline.fanoutLatency.p50Ms,
        ),
        figure('B5', 'fan-out p99', 'ms', gateway.fanoutLatency.p99Ms, baseline.fanoutLatency.p99Ms),
        figure('B5', 'fan-outs', 'per s', gateway.perSec, baseline.perSec),
      ],
      details: { best: { gateway, baseline }, rounds },
      notes: [],
      durationMs: performance.now() - started,
    }
  } finally {
    for (const ws of sockets) ws.terminate()
    connection.close()
    await stopAll(gateways)
    await deleteQueuesContaining(marker)
  }
}
