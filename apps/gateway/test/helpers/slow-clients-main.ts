// Slow and idle HTTP clients in their own process (so that the gateway's CPU and memory are its own):
// from each of several loopback source addresses it keeps `perSource` connections open, topping them
// up as the server closes them (at most `opensPerTick` new ones per tick), until `total` were opened or
// `durationMs` passed. Each connection is one
// of four kinds, in turn: a partial request (`GET /ws HTTP/1.1`, `Host`, then nothing), a request whose
// headers dribble in one byte at a time, a POST to the admin API whose body dribbles in one byte at a
// time, and a connection that sends nothing. It never closes a connection itself while the attack runs:
// the server must. After the attack it waits `graceMs` for the server to close the rest, resets what is
// left (RST: no TIME_WAIT on this side) and prints one JSON line with what it saw. It starts when it
// reads a line on stdin (after printing `ready`), so that the parent can start every attacker at once,
// after their start-up (compiling this file) is over.
// Input: the SLOW_CLIENTS environment variable, JSON (SlowClientsSpec).
import { connect, type Socket } from 'node:net'

export interface SlowClientsSpec {
  port: number
  /** Local addresses to connect from (127.0.0.x). */
  sources: string[]
  perSource: number
  /** New connections per top-up at most (a slow attack: a burst would overflow the listen backlog). */
  opensPerTick: number
  total: number
  durationMs: number
  topUpEveryMs: number
  dribbleEveryMs: number
  graceMs: number
  adminToken: string
}

export const KINDS = ['partial', 'dribble', 'slowBody', 'silent'] as const
export type Kind = (typeof KINDS)[number]

export interface KindReport {
  opened: number
  /** Closed by the server after answering 408 (a timeout). */
  timedOut: number
  /** Closed by the server without a byte of answer (refused at once, or evicted). */
  closedSilently: number
  /** Lifetime of the connections the server timed out, in ms. */
  maxTimedOutMs: number
  /** Lifetime of the ones closed without an answer, in ms. */
  maxSilentMs: number
  /** Still open when the grace period ended (reset by this process). */
  leftOpen: number
}

export interface SlowClientsReport {
  opened: number
  connectErrors: Record<string, number>
  byKind: Record<Kind, KindReport>
  /** The largest number of this process's connections open at once. */
  peakOpen: number
  attackMs: number
}

interface Conn {
  socket: Socket
  kind: Kind
  openedAt: number
  answered: boolean
  /** Reset by this process after the grace period (not counted as closed by the server). */
  reset: boolean
  timer: NodeJS.Timeout | undefined
}

function requestHead(kind: Kind, token: string): string {
  if (kind === 'slowBody') {
    return `POST /v1/broadcast HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`
  }
  return 'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.SLOW_CLIENTS ?? '{}') as SlowClientsSpec
  const byKind = Object.fromEntries(
    KINDS.map((k) => [
      k,
      { opened: 0, timedOut: 0, closedSilently: 0, maxTimedOutMs: 0, maxSilentMs: 0, leftOpen: 0 },
    ]),
  ) as Record<Kind, KindReport>
  const connectErrors: Record<string, number> = {}
  const open = new Map<string, Set<Conn>>(spec.sources.map((s) => [s, new Set()]))
  let opened = 0
  let openNow = 0
  let peakOpen = 0
  let attacking = true
  let wake: () => void = () => {}

  function openOne(source: string): void {
    const kind = KINDS[opened % KINDS.length] as Kind
    opened++
    byKind[kind].opened++
    const socket = connect({ host: '127.0.0.1', port: spec.port, localAddress: source })
    const conn: Conn = {
      socket,
      kind,
      openedAt: performance.now(),
      answered: false,
      reset: false,
      timer: undefined,
    }
    const set = open.get(source) as Set<Conn>
    set.add(conn)
    openNow++
    peakOpen = Math.max(peakOpen, openNow)
    let connected = false
    socket.on('connect', () => {
      connected = true
      const head = requestHead(kind, spec.adminToken)
      if (kind === 'partial' || kind === 'slowBody') socket.write(head)
      if (kind === 'dribble' || kind === 'slowBody') {
        let next = 0
        conn.timer = setInterval(() => {
          if (kind === 'dribble') socket.write(head.slice(next, ++next))
          else socket.write(' ')
        }, spec.dribbleEveryMs)
      }
    })
    socket.on('data', () => {
      conn.answered = true
    })
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected) connectErrors[err.code ?? 'error'] = (connectErrors[err.code ?? 'error'] ?? 0) + 1
    })
    socket.on('close', () => {
      clearInterval(conn.timer)
      set.delete(conn)
      openNow--
      if (connected && !conn.reset) {
        const lifetime = performance.now() - conn.openedAt
        const k = byKind[kind]
        if (conn.answered) {
          k.timedOut++
          k.maxTimedOutMs = Math.max(k.maxTimedOutMs, lifetime)
        } else {
          k.closedSilently++
          k.maxSilentMs = Math.max(k.maxSilentMs, lifetime)
        }
      }
      wake()
    })
  }

  process.stdout.write('ready\n')
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()))
  const t0 = performance.now()
  const topUp = setInterval(() => {
    if (performance.now() - t0 > spec.durationMs || opened >= spec.total) {
      attacking = false
      clearInterval(topUp)
      wake()
      return
    }
    // Round robin over the sources, so that each gets its share of the tick's openings.
    let budget = spec.opensPerTick
    let progress = true
    while (budget > 0 && progress && opened < spec.total) {
      progress = false
      for (const source of spec.sources) {
        const set = open.get(source) as Set<Conn>
        if (set.size >= spec.perSource || budget === 0 || opened >= spec.total) continue
        openOne(source)
        budget--
        progress = true
      }
    }
  }, spec.topUpEveryMs)
  await new Promise<void>((resolve) => {
    wake = () => {
      if (!attacking) resolve()
    }
  })
  const attackMs = performance.now() - t0
  // The server must close every connection by itself: wait for it, then reset the rest.
  await new Promise<void>((resolve) => {
    const deadline = setTimeout(resolve, spec.graceMs)
    wake = () => {
      if (openNow === 0) {
        clearTimeout(deadline)
        resolve()
      }
    }
    wake()
  })
  for (const set of open.values()) {
    for (const conn of set) {
      byKind[conn.kind].leftOpen++
      conn.reset = true
      clearInterval(conn.timer)
      conn.socket.resetAndDestroy()
    }
  }
  const report: SlowClientsReport = {
    opened,
    connectErrors,
    byKind,
    peakOpen,
    attackMs: Math.round(attackMs),
  }
  process.stdout.write(`${JSON.stringify(report)}\n`)
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`slow-clients: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  },
)
