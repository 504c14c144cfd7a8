import { randomUUID } from 'node:crypto'
import {
  decodeTakeoverMessage,
  type TakeoverGranted,
  type TakeoverMessage,
  type TakeoverRefused,
  type TakeoverRequest,
  takeoverGranted,
  takeoverRefused,
  takeoverRequest,
} from '@session-gateway/message-schema'
import type { FastifyBaseLogger } from 'fastify'
import type { CiBridge, ReceivedMeta, Subscription } from 'fastify-ci-bridge'
import type {
  ResumeClaim,
  ResumeOptions,
  ResumeRefusal,
  SessionRegistry,
  SessionSnapshot,
  UserClaims,
} from 'fastify-ws-sessions'
import type { MovedSessions } from './forwarding.js'

/**
 * How long a request whose requester gave up is remembered past its expiry: a hand-over answered
 * that late is still adopted (detached), so that the session is never on neither node.
 */
const LATE_ANSWER_GRACE_MS = 60_000

/**
 * A node's takeover address (PROTOCOL.md 5.4), derived from its node id alone, so that the node
 * named in a resume token can be asked without any directory: received as a non-durable
 * `/queue/<prefix>takeover.<node>`, sent to as `/amq/queue/<prefix>takeover.<node>` (never declared
 * by a sender: a node that is gone has no queue, and the request is dropped, then times out).
 */
export function takeoverAddresses(queuePrefix: string, nodeId: string): { receive: string; send: string } {
  const name = `${queuePrefix}takeover.${nodeId}`
  return { receive: `/queue/${name}`, send: `/amq/queue/${name}` }
}

export interface TakeoverDeps {
  bridge: CiBridge
  sessions: () => SessionRegistry
  nodeId: string
  queuePrefix: string
  /** Longest a resume waits for the holding node; past it, `unavailable`. */
  timeoutMs: number
  /** Where the sessions this node handed over went (forwarding). */
  moved: MovedSessions
  log: FastifyBaseLogger
  /** A session left this node (drain progress). */
  onHandedOver?: () => void
  count?: (
    event: 'requested' | 'granted' | 'refused' | 'timeout' | 'late' | 'handed-over' | 'followed',
  ) => void
}

interface Pending {
  /** Set while the resuming connection still waits; cleared at the timeout. */
  resolve: ((answer: SessionSnapshot | ResumeRefusal) => void) | undefined
  timer: NodeJS.Timeout
}

export interface Takeover {
  /** The sessions plugin's `resume.locate`. */
  locate: NonNullable<ResumeOptions['locate']>
  /** Resolves once this node's takeover address is attached (rejects when the broker refuses it). */
  readonly ready: Promise<void>
  readonly attached: boolean
  /**
   * While this node waits for another node to hand `sid` over: resolves once that is settled (the
   * session adopted here, or refused). A CI message for it forwarded by the old node waits for it, so
   * that it is handled after the session arrived (and after its replayed frames), not refused.
   */
  settling(sid: string): Promise<void> | undefined
  close(): Promise<void>
}

/**
 * Cross-node takeover (PROTOCOL.md 4.1, 5.4). As the requester: `locate` sends TAKEOVER_REQUEST to
 * the node named in the token and waits up to `timeoutMs` for its answer. As the holder: a request
 * is checked by the sessions registry's `handOver` (token, user, last_seq), and answered
 * TAKEOVER_GRANTED (the session left this node; later CI messages for it are forwarded) or
 * TAKEOVER_REFUSED. A grant that comes back after the requester gave up is adopted detached (it then
 * ends exactly once, at its window's end, unless its client resumes it).
 */
export function startTakeover(deps: TakeoverDeps): Takeover {
  const { bridge, nodeId, log } = deps
  const own = takeoverAddresses(deps.queuePrefix, nodeId)
  const pending = new Map<string, Pending>()
  const inFlight = new Map<string, Promise<void>>()
  let attached = false
  let subscription: Subscription | undefined
  let closed = false

  async function onRequest(request: TakeoverRequest, meta: ReceivedMeta): Promise<void> {
    const answerTo = meta.replyTo
    if (!answerTo) {
      log.warn({ from: request.node }, 'TAKEOVER_REQUEST without reply_to: ignored')
      return
    }
    const refuse = (refused: TakeoverRefused['refused']) => {
      deps.count?.('refused')
      return bridge.send(answerTo, takeoverRefused({ requestId: request.requestId, node: nodeId, refused }), {
        durable: false,
        bypassOutboxLimit: true,
      })
    }
    if (request.expiresAt <= Date.now()) {
      // Its requester gave up: handing over now would only make the late path work.
      await refuse('unavailable')
      return
    }
    const answer = deps.sessions().handOver({
      token: request.token,
      lastSeq: request.lastSeq,
      toNode: request.node,
      user: request.user as UserClaims | undefined,
    })
    if ('refused' in answer && answer.movedTo !== undefined) {
      // A resume key (a Socket.IO pid) names the node that issued it, and the session moved on from
      // here since: the request follows it, and its holder answers the requester directly.
      deps.count?.('followed')
      await bridge.send(takeoverAddresses(deps.queuePrefix, answer.movedTo).send, request, {
        replyTo: answerTo,
        durable: false,
        bypassOutboxLimit: true,
        ttl: Math.max(1, request.expiresAt - Date.now()),
      })
      return
    }
    if ('refused' in answer) {
      log.info({ from: request.node, refused: answer.refused }, 'takeover refused')
      await refuse(answer.refused)
      return
    }
    deps.moved.add(answer.sid, request.nodeAddress)
    deps.count?.('handed-over')
    try {
      await bridge.send(
        answerTo,
        takeoverGranted({
          requestId: request.requestId,
          node: nodeId,
          snapshot: answer as TakeoverGranted['snapshot'],
        }),
        // A drained node's outbox holds a CLIENT_DETACHED per session: the grants must not wait behind it.
        { durable: false, bypassOutboxLimit: true },
      )
    } catch (err) {
      // The grant never left: the session comes back here, detached, rather than being on no node.
      deps.moved.delete(answer.sid)
      const back = deps.sessions().adoptDetached(answer, nodeId, log)
      log.warn(
        { err, sid: answer.sid, to: request.node, back },
        'TAKEOVER_GRANTED not sent: session kept here',
      )
      return
    }
    deps.onHandedOver?.()
  }

  function onAnswer(answer: TakeoverGranted | TakeoverRefused): void {
    const entry = pending.get(answer.requestId)
    if (!entry) {
      log.warn(
        { from: answer.node, type: answer.type },
        'takeover answer to no request of this node: ignored',
      )
      return
    }
    pending.delete(answer.requestId)
    clearTimeout(entry.timer)
    if (entry.resolve) {
      deps.count?.(answer.type === 'TAKEOVER_GRANTED' ? 'granted' : 'refused')
      entry.resolve(
        answer.type === 'TAKEOVER_GRANTED'
          ? { ...(answer.snapshot as SessionSnapshot), from: answer.node }
          : { refused: answer.refused },
      )
      return
    }
    if (answer.type !== 'TAKEOVER_GRANTED') return
    deps.count?.('late')
    const adopted = deps.sessions().adoptDetached(answer.snapshot as SessionSnapshot, answer.node, log)
    log.info(
      { sid: answer.snapshot.sid, from: answer.node, adopted },
      'hand-over answered after the resume gave up: the session waits here, detached',
    )
  }

  const handler = async (message: TakeoverMessage, meta: ReceivedMeta): Promise<void> => {
    if (message.type === 'TAKEOVER_REQUEST') await onRequest(message, meta)
    else onAnswer(message)
  }

  const ready = bridge
    .subscribe(own.receive, { decode: decodeTakeoverMessage, handler, durable: false })
    .then((sub) => {
      subscription = sub
      attached = true
      if (closed) void sub.close()
    })
  ready.catch((err: unknown) =>
    log.error({ err, address: own.receive }, 'takeover address not attached: cross-node resume unavailable'),
  )

  async function locate(
    claim: ResumeClaim,
    context: { lastSeq: number; user: UserClaims | undefined },
  ): Promise<SessionSnapshot | ResumeRefusal> {
    if (!attached || closed) return { refused: 'unavailable' }
    const requestId = randomUUID()
    const expiresAt = Date.now() + deps.timeoutMs
    deps.count?.('requested')
    const answer = new Promise<SessionSnapshot | ResumeRefusal>((resolve) => {
      const entry: Pending = {
        resolve,
        timer: setTimeout(() => {
          // The client gets `unavailable`; a grant that still comes is adopted detached (onAnswer).
          entry.resolve = undefined
          deps.count?.('timeout')
          resolve({ refused: 'unavailable' })
          entry.timer = setTimeout(() => pending.delete(requestId), LATE_ANSWER_GRACE_MS)
          entry.timer.unref()
        }, deps.timeoutMs),
      }
      entry.timer.unref()
      pending.set(requestId, entry)
    })
    const request = takeoverRequest({
      requestId,
      token: claim.token,
      lastSeq: context.lastSeq,
      node: nodeId,
      nodeAddress: bridge.nodeReplyTo,
      ...(context.user ? { user: context.user } : {}),
      expiresAt,
    })
    // The plugin installs the session in its continuation of `locate`: one macrotask later it is there.
    const settled = answer.then(() => new Promise<void>((resolve) => setImmediate(resolve)))
    inFlight.set(claim.sid, settled)
    void settled.then(() => {
      if (inFlight.get(claim.sid) === settled) inFlight.delete(claim.sid)
    })
    const holder = takeoverAddresses(deps.queuePrefix, claim.node).send
    bridge
      .send(holder, request, {
        replyTo: own.send,
        durable: false,
        bypassOutboxLimit: true,
        ttl: deps.timeoutMs,
      })
      .catch((err: unknown) => {
        const entry = pending.get(requestId)
        if (!entry?.resolve) return
        pending.delete(requestId)
        clearTimeout(entry.timer)
        log.warn({ err, node: claim.node }, 'TAKEOVER_REQUEST not accepted by the broker')
        entry.resolve({ refused: 'unavailable' })
      })
    return answer
  }

  return {
    locate,
    ready,
    get attached() {
      return attached
    },
    settling: (sid) => inFlight.get(sid),
    async close() {
      closed = true
      for (const [id, entry] of pending) {
        clearTimeout(entry.timer)
        entry.resolve?.({ refused: 'unavailable' })
        pending.delete(id)
      }
      await subscription?.close()
    },
  }
}
