/**
 * The gateway -> client frames of PROTOCOL.md section 1 ("Gateway to client"), read independently of
 * the page's classifier and of message-schema's validators (both could be wrong together):
 *
 * - event frame: `{"event":"<name>","data":<any>}`
 * - reply frame: `{"id":<id>,"ok":true,"data"?:<any>}` or
 *   `{"id":<id>,"ok":false,"error":{"code":"…","message":"…"}}`
 * - error frame: `{"event":"error","data":{"code":"…","message":"…"}}`
 *
 * Text frames only, each one JSON object; `id` is an integer 0..2^53-1 or a string of 1-64 chars.
 */

/** One WebSocket connection of a page, as the browser saw it. */
export interface WireConnection {
  url: string
  /** Text of every frame the page sent (binary frames as undefined). */
  sent: Array<string | undefined>
  /** Text of every frame the page received (binary frames as undefined). */
  received: Array<string | undefined>
}

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x)

const isRequestId = (x: unknown): x is number | string =>
  (typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 2 ** 53 - 1) ||
  (typeof x === 'string' && x.length >= 1 && x.length <= 64)

const isErrorBody = (x: unknown): boolean =>
  isObject(x) && typeof x.code === 'string' && x.code !== '' && typeof x.message === 'string'

/** What is wrong with one gateway -> client frame, or undefined when it is one of the three kinds. */
export function serverFrameProblem(text: string | undefined): string | undefined {
  if (text === undefined) return 'a binary frame'
  let frame: unknown
  try {
    frame = JSON.parse(text)
  } catch {
    return 'not JSON'
  }
  if (!isObject(frame)) return 'not a JSON object'
  if ('event' in frame) {
    if (typeof frame.event !== 'string' || frame.event === '') return 'event is not a non-empty string'
    if ('id' in frame || 'ok' in frame) return 'an event frame with id or ok'
    if (frame.event === 'error' && !isErrorBody(frame.data)) return 'an error frame without {code, message}'
    return undefined
  }
  if (!('id' in frame)) return 'neither an event nor a reply'
  if (!isRequestId(frame.id)) return 'a reply whose id is not a request id'
  if (frame.ok === true) return 'error' in frame ? 'an ok:true reply with an error' : undefined
  if (frame.ok === false) {
    if ('data' in frame) return 'an ok:false reply with data'
    return isErrorBody(frame.error) ? undefined : 'an ok:false reply without {code, message}'
  }
  return 'a reply whose ok is not a boolean'
}

/**
 * Every problem with a connection's frames: frames of none of the three kinds, replies to an id the
 * page never sent, and more than one reply to one id.
 */
export function connectionProblems(connection: WireConnection): string[] {
  const problems: string[] = []
  const sentIds = new Set<string>()
  for (const text of connection.sent) {
    try {
      const frame = JSON.parse(text ?? '') as unknown
      if (isObject(frame) && 'id' in frame) sentIds.add(JSON.stringify(frame.id))
    } catch {
      // A frame the page sent that is not JSON is the gateway's to refuse, not a wire problem here.
    }
  }
  const replies = new Map<string, number>()
  for (const text of connection.received) {
    const problem = serverFrameProblem(text)
    if (problem) {
      problems.push(`${problem}: ${String(text).slice(0, 200)}`)
      continue
    }
    const frame = JSON.parse(text as string) as Record<string, unknown>
    if (!('id' in frame)) continue
    const id = JSON.stringify(frame.id)
    if (!sentIds.has(id)) problems.push(`a reply to id ${id}, which the page never sent`)
    replies.set(id, (replies.get(id) ?? 0) + 1)
  }
  for (const [id, n] of replies) if (n > 1) problems.push(`${n} replies to id ${id}`)
  return problems
}
