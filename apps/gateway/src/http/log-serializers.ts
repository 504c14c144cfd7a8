import type { FastifyRequest } from 'fastify'

/** Query parameters that carry a credential: JWTs, and resume tokens (PROTOCOL.md 4.1). */
const SECRET_KEYS = new Set(['access_token', 'token', 'resume'])

/** A query key as the query parser reads it (percent-decoded), or the raw key when it does not decode. */
function decodedKey(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' ')).toLowerCase()
  } catch {
    return raw.toLowerCase()
  }
}

/**
 * The URL with token query parameters replaced, so that no token reaches a log line. Keys are
 * compared decoded, as the query parser decodes them: `access%5Ftoken=` is `access_token=` too.
 */
export function redactUrl(url: string): string {
  return url.replace(/([?&])([^=&#]*)=([^&#]*)/g, (whole, sep: string, key: string) =>
    SECRET_KEYS.has(decodedKey(key)) ? `${sep}${key}=[redacted]` : whole,
  )
}

/** pino serializers for the gateway's logger. */
export const logSerializers = {
  req(request: FastifyRequest) {
    return {
      method: request.method,
      url: redactUrl(request.url),
      remoteAddress: request.ip,
    }
  },
}
