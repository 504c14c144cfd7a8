import assert from 'node:assert/strict'
import { until } from '@session-gateway/test-kit'
import { DEFAULT_LOG_WINDOW_MS } from '../../src/log-throttle.js'
import { AckClient } from '../helpers/ack-client.js'
import { unique } from '../helpers/broker.js'
import { type ChildGateway, RssSampler, spawnGateway } from '../helpers/child-gateway.js'
import type { PrivateBroker } from '../helpers/private-broker.js'
import { ResilientUserManager } from '../helpers/resilient-um.js'

const PER_EVENT_WARNINGS = [
  'client event not accepted by the broker',
  'CLIENT_CONNECTED not accepted by the broker: closing the session (1013)',
  'CLIENT_DISCONNECTED not accepted by the broker',
  'RESULT not sent',
]

export interface BrokerFaultsParams {
  clients: number
  /** Acked events each client sends per second. */
  perClientPerSec: number
  /** How long the broker stays away in each fault (the experiment's parameter, not a wait for something). */
  outageMs: number
  /** ok:true replies to see after each recovery before the next step. */
  okAfterRecovery: number
  /** The stated bound on the gateway's RSS over the whole run. */
  rssBoundBytes: number
  /** Sessions opened during each outage. */
  lateJoiners: number
  /** More environment for the gateway (e.g. LOG_LEVEL). */
  env?: Record<string, string>
  /** AMQP_SEND_TIMEOUT_MS of the gateway. */
  sendTimeoutMs: number
  /**
   * AMQP_OUTBOX_LIMIT of the gateway. When set, each outage also sends `outboxLimit + 1` events at
   * once (spread over the clients) while the broker is away, so that some are refused for certain
   * and the per-event warnings (and their throttle) are exercised however short the outage. Without
   * it, the outage must outlast `sendTimeoutMs` for the same certainty.
   */
  outboxLimit?: number
}

export interface FaultWindow {
  fault: string
  /** ms the broker command took (until its AMQP port was closed). */
  faultTookMs: number
  /** ms from the fault command to /readyz 503. */
  notReadyAfterMs: number
  /** ms the broker took to come back (start_app or start, until AMQP answers). */
  brokerBackAfterMs: number
  /** ms from the broker answering AMQP again to /readyz 200. */
  readyAgainAfterMs: number
  /** Outcomes of the requests sent from the fault until /readyz was 200 again. */
  outcomesDuringOutage: Record<string, number>
  heapAtEndOfOutageMb: number
  rssAtEndOfOutageMb: number
  /** gateway_outbox_depth at the end of the outage. */
  outboxAtEndOfOutage: number
  from: number
  to: number
}

export interface BrokerFaultsReport {
  sent: number
  ok: number
  unavailable: number
  other: number
  maxLateOkMs: number
  umDistinct: number
  umDeliveries: number
  umDuplicates: number
  rssBaselineMb: number
  rssPeakMb: number
  windows: FaultWindow[]
  warnings: string[]
  /** Log lines by message, at every level the gateway logged (LOG_LEVEL info). */
  logLines: Record<string, number>
  reconnects: number | undefined
  /** Sessions opened during the outages: served, or closed 1013 before any frame was handled. */
  lateJoiners: { served: number; refused1013: number }
}

type Log = (line: string) => void

/**
 * PROTOCOL.md's promise through broker faults: clients send acked events steadily while the broker
 * (a private node) goes through `stop_app`/`start_app` and then `kill -9` + restart. Every ok:true
 * reaches the UM, every request gets exactly one reply, /readyz follows the broker, the gateway
 * process is the same one throughout, and its RSS stays under the stated bound.
 */
export async function runBrokerFaults(
  broker: PrivateBroker,
  params: BrokerFaultsParams,
  log: Log,
): Promise<BrokerFaultsReport> {
  const queue = unique('faults-um')
  const nodeId = unique('faults-node')
  const um = new ResilientUserManager(broker.url, queue)
  const clients: AckClient[] = []
  const lateJoiners: AckClient[] = []
  let gw: ChildGateway | undefined
  let rss: RssSampler | undefined
  let readyPoll: NodeJS.Timeout | undefined
  const startedAt = Date.now()
  try {
    um.start()
    await until(() => um.connections > 0, {
      timeoutMs: 15_000,
      what: 'the UM connected to the private broker',
    })
    gw = await spawnGateway(
      {
        AMQP_URL: broker.url,
        UM_ADDRESS: `/queue/${queue}`,
        BROADCAST_ADDRESS: `/topic/${unique('faults-bc')}`,
        GATEWAY_NODE_ID: nodeId,
        AMQP_SEND_TIMEOUT_MS: String(params.sendTimeoutMs),
        ...(params.outboxLimit !== undefined ? { AMQP_OUTBOX_LIMIT: String(params.outboxLimit) } : {}),
        LOG_LEVEL: 'info',
        ...params.env,
      },
      { inspect: true },
    )
    const gateway = gw
    const pid = gateway.pid
    rss = new RssSampler(() => gateway.rss(), 100)

    // /readyz, polled all along.
    const readiness: Array<{ t: number; status: number | undefined }> = []
    let polling = false
    readyPoll = setInterval(() => {
      if (polling) return
      polling = true
      void gateway.readyz().then((status) => {
        readiness.push({ t: Date.now(), status })
        polling = false
      })
    }, 100)
    const statusSince = (since: number, want: number) =>
      readiness.find((r) => r.t >= since && r.status === want)

    for (let i = 0; i < params.clients; i++) clients.push(await AckClient.open(gateway.wsUrl))
    const rssBaseline = rss.sample()
    const okCount = () => {
      let n = 0
      for (const c of clients) for (const r of c.requests.values()) if (r.id !== 1 && r.outcome === 'ok') n++
      return n
    }
    for (const c of clients) c.startSteady('fault.tick', params.perClientPerSec)
    await until(() => okCount() >= params.okAfterRecovery, {
      timeoutMs: 20_000,
      what: 'traffic flowing before the faults',
    })

    const windows: FaultWindow[] = []
    const lateReport = { served: 0, refused1013: 0 }
    const faults: Array<[string, () => Promise<unknown>, () => Promise<unknown>]> = [
      ['stop_app / start_app', broker.stopApp, broker.startApp],
      ['kill -9 / start', broker.kill, broker.start],
    ]
    for (const [fault, down, up] of faults) {
      const t0 = Date.now()
      const p0 = performance.now()
      await down()
      const tDown = Date.now()
      await until(() => statusSince(t0, 503) !== undefined, {
        timeoutMs: 15_000,
        what: `/readyz 503 after ${fault}`,
      })
      const notReadyAt = statusSince(t0, 503)?.t as number
      // Sessions that open while the broker is away: the node may take them, but the UM must then
      // learn of them (CLIENT_CONNECTED) before any of their events.
      // Their frames wait until it is (or the session is closed 1013 when it cannot be).
      for (let i = 0; i < params.lateJoiners; i++) {
        const late = await AckClient.connect(gateway.wsUrl)
        late.send('GET_SID')
        late.startSteady('fault.late', params.perClientPerSec)
        lateJoiners.push(late)
      }
      if (params.outboxLimit !== undefined) {
        for (let i = 0; i <= params.outboxLimit; i++) clients[i % clients.length]?.send('fault.burst', { i })
      }
      // The outage lasts outageMs: traffic goes on meanwhile.
      await new Promise((resolve) => setTimeout(resolve, params.outageMs))
      // What the node holds at the end of the outage (V8 heap in use after a full GC), and its RSS.
      const heapAtEndOfOutage = await gateway.heapAfterGc()
      const rssAtEndOfOutage = rss.sample()
      const outboxAtEnd = (await gateway.metric('gateway_outbox_depth')) ?? -1
      const tUp = Date.now()
      await up()
      const tBack = Date.now()
      await until(() => statusSince(tBack, 200) !== undefined, {
        timeoutMs: 60_000,
        what: `/readyz 200 after ${fault}`,
      })
      const readyAt = statusSince(tBack, 200)?.t as number
      const pReady = performance.now()
      const okAtRecovery = okCount()
      await until(() => okCount() >= okAtRecovery + params.okAfterRecovery, {
        timeoutMs: params.sendTimeoutMs + 30_000,
        what: `ok replies again after ${fault}`,
      })
      windows.push({
        fault,
        faultTookMs: tDown - t0,
        notReadyAfterMs: notReadyAt - t0,
        brokerBackAfterMs: tBack - tUp,
        readyAgainAfterMs: readyAt - tBack,
        outcomesDuringOutage: {},
        heapAtEndOfOutageMb: Math.round(heapAtEndOfOutage / 1e5) / 10,
        rssAtEndOfOutageMb: Math.round(rssAtEndOfOutage / 1e5) / 10,
        outboxAtEndOfOutage: outboxAtEnd,
        from: p0,
        to: pReady,
      })
      assert.equal(gateway.child.exitCode, null, `the gateway still runs after ${fault}`)
    }

    for (const c of [...clients, ...lateJoiners]) c.stop()
    // A session opened during an outage was either served (the broker took its CLIENT_CONNECTED in
    // time) or closed 1013 before any of its frames was handled.
    const refused = lateJoiners.filter((c) => c.closeInfo !== undefined)
    for (const c of refused) {
      assert.deepEqual(c.closeInfo, { code: 1013, reason: 'backend unavailable, try again later' })
      assert.equal(
        [...c.requests.values()].filter((r) => r.outcome !== undefined).length,
        0,
        'nothing answered',
      )
    }
    const served = lateJoiners.filter((c) => c.closeInfo === undefined)
    await until(() => served.every((c) => c.sid !== ''), {
      timeoutMs: 30_000,
      what: 'served late joiners to know their SID',
    })
    clients.push(...served)
    lateReport.served = served.length
    lateReport.refused1013 = refused.length
    // Every request gets exactly one reply: wait for the last ones (bounded by the send timeout).
    const all = () => clients.flatMap((c) => c.eventRecords())
    await until(() => all().every((r) => r.outcome !== undefined), {
      timeoutMs: params.sendTimeoutMs + 30_000,
      what: 'a reply to every request',
    })
    const records = all()
    for (const w of windows) {
      for (const r of records) {
        if (r.sentAt < w.from || r.sentAt > w.to) continue
        const key = r.outcome as string
        w.outcomesDuringOutage[key] = (w.outcomesDuringOutage[key] ?? 0) + 1
      }
      assert.ok(
        Object.values(w.outcomesDuringOutage).reduce((a, b) => a + b, 0) > 0,
        `traffic was sent during the ${w.fault} outage`,
      )
    }
    const ok = records.filter((r) => r.outcome === 'ok')
    const unavailable = records.filter((r) => r.outcome === 'UNAVAILABLE')
    const other = records.filter((r) => r.outcome !== 'ok' && r.outcome !== 'UNAVAILABLE')
    assert.deepEqual(
      other.map((r) => r.outcome),
      [],
      'each reply is ok:true or UNAVAILABLE',
    )
    assert.equal(
      records.filter((r) => r.replies !== 1).length,
      0,
      'exactly one reply per request (no silence, no double reply)',
    )
    assert.equal(
      clients.reduce((n, c) => n + c.strayReplies, 0),
      0,
      'no reply for an id never sent',
    )
    for (const c of clients) assert.equal(c.closeInfo, undefined, 'no session was closed by the faults')

    // Every ok:true reached the UM.
    const acked = clients.flatMap((c) =>
      c
        .eventRecords()
        .filter((r) => r.outcome === 'ok')
        .map((r) => `${c.sid} ${r.id}`),
    )
    await until(() => acked.every((key) => um.events.has(key)), {
      timeoutMs: 60_000,
      what: 'every acknowledged event at the UM',
    }).catch(() => {})
    const missing = acked.filter((key) => !um.events.has(key))
    assert.deepEqual(missing.slice(0, 20), [], `${missing.length} acknowledged events never reached the UM`)

    // The UM knows every session whose events it got: CLIENT_CONNECTED arrived for each of them.
    const eventSids = new Set([...um.events].map((key) => key.split(' ')[0] as string))
    const unknown = [...eventSids].filter((sid) => !um.connected.has(sid))
    assert.deepEqual(
      unknown.map((sid) => ({ sid, late: lateJoiners.some((c) => c.sid === sid) })),
      [],
      'CLIENT_EVENTs from sessions the UM was never told of',
    )

    // Same process all along, ready at the end, RSS under the bound.
    assert.equal(gateway.pid, pid)
    assert.equal(gateway.child.exitCode, null)
    assert.equal(await gateway.readyz(), 200)
    const reconnects = await gateway.metric('gateway_broker_reconnects_total')
    rss.stop()
    assert.ok(
      rss.peak < params.rssBoundBytes,
      `gateway RSS peak ${(rss.peak / 1e6).toFixed(1)} MB under ${(params.rssBoundBytes / 1e6).toFixed(0)} MB`,
    )
    // Per-event warnings are throttled: at most one line of each kind per 10 s window. The counts
    // are kept by `level: message` (child-gateway.ts); the summary line at a window's end has its
    // own message, so it is not counted here.
    const windowsElapsed = Math.ceil((Date.now() - startedAt) / DEFAULT_LOG_WINDOW_MS) + 1
    const perEventLines = PER_EVENT_WARNINGS.map((msg) => ({
      msg,
      lines: gateway.messageCounts.get(`warn: ${msg}`) ?? 0,
    }))
    for (const { msg, lines } of perEventLines) {
      assert.ok(lines <= windowsElapsed, `${lines} lines of "${msg}" in ${windowsElapsed} log windows`)
    }
    // The outages refused events for certain (outboxLimit, or outages past the send timeout): the
    // throttle above was fed, and each refusal kind was logged at least once.
    assert.ok(unavailable.length > 0, 'some events were refused during the outages')
    assert.ok(
      (gateway.messageCounts.get('warn: client event not accepted by the broker') ?? 0) >= 1,
      `a refused event is logged; lines: ${JSON.stringify(Object.fromEntries(gateway.messageCounts))}`,
    )
    const lateOk = ok.map((r) => (r.repliedAt as number) - r.sentAt)
    const report: BrokerFaultsReport = {
      sent: records.length,
      ok: ok.length,
      unavailable: unavailable.length,
      other: other.length,
      maxLateOkMs: Math.round(Math.max(0, ...lateOk)),
      umDistinct: um.events.size,
      umDeliveries: um.deliveries,
      umDuplicates: um.duplicates,
      rssBaselineMb: Math.round(rssBaseline / 1e5) / 10,
      rssPeakMb: Math.round(rss.peak / 1e5) / 10,
      windows,
      warnings: [...new Set(gateway.warnings.map((w) => String(w.msg)))],
      logLines: Object.fromEntries(gateway.messageCounts),
      reconnects,
      lateJoiners: lateReport,
    }
    log(JSON.stringify(report))
    return report
  } finally {
    clearInterval(readyPoll)
    rss?.stop()
    for (const c of [...clients, ...lateJoiners]) c.close()
    await gw?.kill()
    await um.stop()
    await broker.ctl('delete_queue', queue).catch(() => '')
    await broker.ctl('delete_queue', `gateway.node.${nodeId}`).catch(() => '')
  }
}
