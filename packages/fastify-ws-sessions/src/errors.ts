/** Options of a {@link SessionError}. */
export interface SessionErrorOptions {
  /**
   * WebSocket close code used when this error rejects a session in `onConnect`
   * (1000, 1001, 1008, 1011, 1013 or 3000-4999). Ignored everywhere else.
   */
  closeCode?: number
  cause?: unknown
}

/**
 * A coded error a handler may throw. Its `code` and `message` reach the client
 * (reply frame `{"id":…,"ok":false,"error":{code,message}}`); any other thrown
 * error reaches the client only as `INTERNAL` with a generic message.
 */
export class SessionError extends Error {
  readonly code: string
  readonly closeCode: number | undefined

  constructor(code: string, message: string, options: SessionErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    if (typeof code !== 'string' || code.length === 0) {
      throw new TypeError('SessionError: "code" must be a non-empty string')
    }
    if (options.closeCode !== undefined && !isSendableCloseCode(options.closeCode)) {
      throw new RangeError(`SessionError: invalid close code ${String(options.closeCode)}`)
    }
    this.name = 'SessionError'
    this.code = code
    this.closeCode = options.closeCode
  }
}

/**
 * Close codes an endpoint may put in a close frame (RFC 6455 section 7.4):
 * 1000-1003, 1007-1014 and 3000-4999.
 */
export function isSendableCloseCode(code: unknown): code is number {
  if (typeof code !== 'number' || !Number.isInteger(code)) return false
  if (code >= 3000 && code <= 4999) return true
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006
}
