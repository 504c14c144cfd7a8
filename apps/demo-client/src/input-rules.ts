/** Room names the demo User Manager accepts (apps/gateway demo-user-manager.ts). */
export const ROOM_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/
export const MAX_CHAT_TEXT = 2000

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string }

export function checkRoomName(input: string): Checked<string> {
  const room = input.trim()
  if (room === '') return { ok: false, message: 'Enter a room name first.' }
  if (!ROOM_PATTERN.test(room)) {
    return {
      ok: false,
      message: `"${room}" is not a valid room name: use 1-64 letters, digits or _ . : - (no spaces).`,
    }
  }
  return { ok: true, value: room }
}

export function checkChatText(input: string): Checked<string> {
  if (input.trim() === '') return { ok: false, message: 'Type a message first.' }
  if (input.length > MAX_CHAT_TEXT)
    return { ok: false, message: `A message has at most ${MAX_CHAT_TEXT} characters.` }
  return { ok: true, value: input }
}

/**
 * The custom event's data: empty means "no data"; otherwise it must be JSON. The event name
 * itself is deliberately not checked here, so that the gateway's own answer to a bad name
 * (INVALID) can be seen.
 */
export function checkJsonData(input: string): Checked<unknown> {
  if (input.trim() === '') return { ok: true, value: undefined }
  try {
    return { ok: true, value: JSON.parse(input) as unknown }
  } catch (err) {
    return { ok: false, message: `The data is not valid JSON: ${(err as Error).message}` }
  }
}

export function checkEventName(input: string): Checked<string> {
  const event = input.trim()
  if (event === '') return { ok: false, message: 'Enter an event name first.' }
  return { ok: true, value: event }
}

export function checkBurstCount(input: string): Checked<number> {
  const n = Number(input)
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    return { ok: false, message: 'The burst size must be a whole number from 1 to 1000.' }
  return { ok: true, value: n }
}
