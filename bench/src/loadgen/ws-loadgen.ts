/**
 * WebSocket load generator (a child process of the bench). Commands:
 * - `connect` {url, count, concurrency, protocol, localAddresses?} -> `connected`
 * - `reqrep` {mode, inFlightPerConnection, warmupMs, durationMs, connections?} -> `reqrep-done`
 * - `fanout-start` -> `fanout-started`, then `seq-done` {seq} per complete broadcast; `frames` -> `frames`
 *   {frames} (counted so far); `fanout-stop` -> `fanout-done` {frames}
 * - `open-count` -> `open-count` {open}
 * - `reset` -> `reset-done` (every connection closed with a TCP reset)
 * - `stop`: exits.
 */
import type WebSocket from 'ws'
import { onCommand, toParent } from '../lib/ipc.js'
import { openConnections, type Protocol, resetAll } from './connect.js'
import { countBroadcasts } from './fanout.js'
import { type ReqRepMode, runReqRep } from './reqrep.js'

let sockets: WebSocket[] = []
let fanout: ReturnType<typeof countBroadcasts> | undefined

onCommand(async (command) => {
  switch (command.type) {
    case 'connect': {
      const result = await openConnections({
        url: String(command.url),
        count: Number(command.count),
        concurrency: Number(command.concurrency ?? 100),
        protocol: (command.protocol as Protocol | undefined) ?? 'plain',
        localAddresses: (command.localAddresses as string[] | undefined) ?? [],
      })
      sockets = result.sockets
      toParent({
        type: 'connected',
        opened: sockets.length,
        failed: result.failed,
        elapsedMs: result.elapsedMs,
        firstError: result.firstError ?? null,
      })
      return
    }
    case 'reqrep': {
      const result = await runReqRep(sockets, {
        mode: command.mode as ReqRepMode,
        inFlightPerConnection: Number(command.inFlightPerConnection),
        warmupMs: Number(command.warmupMs),
        durationMs: Number(command.durationMs),
        ...(command.connections === undefined ? {} : { connections: Number(command.connections) }),
      })
      toParent({ type: 'reqrep-done', ...result })
      return
    }
    case 'fanout-start':
      fanout = countBroadcasts(sockets, (seq) => toParent({ type: 'seq-done', seq }))
      toParent({ type: 'fanout-started' })
      return
    case 'frames':
      toParent({ type: 'frames', frames: fanout?.frames ?? 0 })
      return
    case 'fanout-stop': {
      const frames = fanout?.frames ?? 0
      fanout?.stop()
      fanout = undefined
      toParent({ type: 'fanout-done', frames })
      return
    }
    case 'open-count':
      toParent({ type: 'open-count', open: sockets.filter((ws) => ws.readyState === ws.OPEN).length })
      return
    case 'reset':
      resetAll(sockets)
      toParent({ type: 'reset-done' })
      return
    case 'stop':
      resetAll(sockets)
      process.exit(0)
      return
    default:
      toParent({ type: 'error', message: `unknown command ${command.type}` })
  }
})
toParent({ type: 'ready' })
