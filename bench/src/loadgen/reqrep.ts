import type WebSocket from 'ws'
import { encodeHistogram, newHistogram, recordMs } from '../lib/histogram.js'
import { asText, numberAfter } from './frames.js'

/**
 * `get-sid`: `{"event":"GET_SID","id":N}`, done when a frame with `"id":N` comes back (the gateway's
 * reply, or the echo server's copy of the request).
 * `event`: `{"event":"bench.ping","data":{"k":N}}`, done when the EMIT `{"event":…,"data":{"k":N}}`
 * comes back through the broker and the echo User Manager.
 * `event-ack`: the same with `"id":N`, so that the gateway also answers `{"id":N,"ok":true}` once the
 * broker has accepted the event (counted, not waited for).
 */
export type ReqRepMode = 'get-sid' | 'event' | 'event-ack'

export interface ReqRepOptions {
  mode: ReqRepMode
  inFlightPerConnection: number
  warmupMs: number
  durationMs: number
  /** Use only the first N connections (default: all). */
  connections?: number
  /** Longest wait for outstanding requests after the measured window. */
  drainMs?: number
}

export interface ReqRepResult {
  completed: number
  measuredMs: number
  histogram: string
  acksOk: number
  acksFailed: number
  unanswered: number
}

function request(mode: ReqRepMode, id: number): string {
  if (mode === 'get-sid') return `{"event":"GET_SID","id":${id}}`
  if (mode === 'event') return `{"event":"bench.ping","data":{"k":${id}}}`
  return `{"event":"bench.ping","data":{"k":${id}},"id":${id}}`
}

/** Closed loop: each connection keeps `inFlightPerConnection` requests outstanding. */
export function runReqRep(all: WebSocket[], options: ReqRepOptions): Promise<ReqRepResult> {
  const sockets = all.slice(0, options.connections ?? all.length)
  const histogram = newHistogram()
  let measuring = false
  let sending = true
  let completed = 0
  let acksOk = 0
  let acksFailed = 0
  let nextId = 1
  let outstanding = 0
  const { mode } = options
  let measureStart = 0

  return new Promise((resolve) => {
    let finish: (() => void) | undefined
    for (const ws of sockets) {
      const pending = new Map<number, number>()
      const sendOne = () => {
        const id = nextId++
        pending.set(id, performance.now())
        outstanding++
        ws.send(request(mode, id))
      }
      ws.on('message', (data) => {
        const text = asText(data)
        let id: number
        if (mode !== 'get-sid') {
          if (text.startsWith('{"id"')) {
            if (text.includes('"ok":true')) acksOk++
            else acksFailed++
            return
          }
          if (text.startsWith('{"event":"error"')) {
            acksFailed++
            return
          }
          id = numberAfter(text, '"k":')
        } else {
          id = numberAfter(text, '"id":')
        }
        const sentAt = pending.get(id)
        if (sentAt === undefined) return
        pending.delete(id)
        outstanding--
        if (measuring) {
          recordMs(histogram, performance.now() - sentAt)
          completed++
        }
        if (sending) sendOne()
        else if (outstanding === 0) finish?.()
      })
      for (let i = 0; i < options.inFlightPerConnection; i++) sendOne()
    }

    setTimeout(() => {
      histogram.reset()
      completed = 0
      acksOk = 0
      acksFailed = 0
      measuring = true
      measureStart = performance.now()
      setTimeout(() => {
        measuring = false
        sending = false
        const measuredMs = performance.now() - measureStart
        const counted = completed
        let done = false
        finish = () => {
          if (done) return
          done = true
          for (const ws of sockets) ws.removeAllListeners('message')
          resolve({
            completed: counted,
            measuredMs,
            histogram: encodeHistogram(histogram),
            acksOk,
            acksFailed,
            unanswered: outstanding,
          })
        }
        if (outstanding === 0) finish()
        else setTimeout(finish, options.drainMs ?? 3000)
      }, options.durationMs)
    }, options.warmupMs)
  })
}
