/**
 * Cheap reads of the few numbers a load generator needs from a frame, without JSON.parse: the
 * load generators share two cores with the server under test, and must cost as little as possible
 * (and the same for the gateway and its baseline).
 */

/** The non-negative integer right after `key` (e.g. `"id":`) in `text`, or -1. */
export function numberAfter(text: string, key: string): number {
  const at = text.indexOf(key)
  if (at < 0) return -1
  let i = at + key.length
  let value = 0
  let digits = 0
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 48 || c > 57) break
    value = value * 10 + (c - 48)
    digits++
  }
  return digits === 0 ? -1 : value
}

export function asText(data: unknown): string {
  if (typeof data === 'string') return data
  if (Buffer.isBuffer(data)) return data.toString('utf8')
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]).toString('utf8')
  return Buffer.from(data as ArrayBuffer).toString('utf8')
}
