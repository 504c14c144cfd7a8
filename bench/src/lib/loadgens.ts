import type { Message } from './ipc.js'
import { type Child, startChild } from './procs.js'
import type { Server } from './server.js'

/** Starts `n` WebSocket load generator processes. */
export async function startLoadgens(prefix: string, n: number): Promise<Child[]> {
  const started = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      startChild('loadgen/ws-loadgen.ts', { name: `${prefix}-loadgen-${i}` }),
    ),
  )
  return started.map((s) => s.child)
}

export interface ConnectSummary {
  opened: number
  failed: number
  elapsedMs: number
  firstError: string | null
}

/** Each load generator opens its share of `total` connections; resolves when all are done. */
export async function connectAll(
  loadgens: Child[],
  command: {
    url: string
    protocol?: 'plain' | 'engineio'
    concurrency?: number
    localAddresses?: (i: number) => string[]
  },
  total: number,
): Promise<ConnectSummary> {
  const started = performance.now()
  const answers: Message[] = await Promise.all(
    loadgens.map((lg, i) => {
      const share = Math.floor(total / loadgens.length) + (i < total % loadgens.length ? 1 : 0)
      return lg.request(
        {
          type: 'connect',
          url: command.url,
          count: share,
          protocol: command.protocol ?? 'plain',
          concurrency: command.concurrency ?? 50,
          localAddresses: command.localAddresses?.(i) ?? [],
        },
        'connected',
        180_000,
      )
    }),
  )
  return {
    opened: answers.reduce((s, a) => s + Number(a.opened), 0),
    failed: answers.reduce((s, a) => s + Number(a.failed), 0),
    elapsedMs: performance.now() - started,
    firstError: (answers.find((a) => a.firstError)?.firstError as string | undefined) ?? null,
  }
}

/** Closes every connection of every load generator with a TCP reset. */
export async function resetAll(loadgens: Child[]): Promise<void> {
  await Promise.all(loadgens.map((lg) => lg.request({ type: 'reset' }, 'reset-done', 60_000)))
}

/** Waits until the server's session count satisfies `predicate` (or `maxMs` passed); returns the last count. */
export async function waitForSessions(
  server: Server,
  predicate: (sessions: number) => boolean,
  maxMs: number,
): Promise<number> {
  const until = performance.now() + maxMs
  for (;;) {
    const sessions = await server.sessions()
    if (predicate(sessions) || performance.now() > until) return sessions
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}
