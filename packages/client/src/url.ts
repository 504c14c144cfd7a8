import { LAST_SEQ_QUERY_PARAM, RESUME_QUERY_PARAM } from '@session-gateway/message-schema'

/** Query parameter of the JWT: a browser cannot set `Authorization` on a WebSocket. */
export const TOKEN_QUERY_PARAM = 'access_token'

export interface AttemptTarget {
  token?: string | undefined
  resume?: { token: string; lastSeq: number } | undefined
}

/** The URL of one connection attempt: `url` plus `access_token`, `resume` and `last_seq` when given. */
export function attemptUrl(url: string, target: AttemptTarget): string {
  const parsed = new URL(url)
  if (target.token !== undefined && target.token !== '')
    parsed.searchParams.set(TOKEN_QUERY_PARAM, target.token)
  if (target.resume) {
    parsed.searchParams.set(RESUME_QUERY_PARAM, target.resume.token)
    parsed.searchParams.set(LAST_SEQ_QUERY_PARAM, String(target.resume.lastSeq))
  }
  return parsed.toString()
}

/** Checks the gateway URL once, up front, with a message a person can act on. */
export function checkGatewayUrl(url: string): void {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new TypeError(`@session-gateway/client: "${url}" is not a URL (expected ws://host:port/ws)`)
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new TypeError(
      `@session-gateway/client: the URL must start with ws:// or wss:// (got "${parsed.protocol}")`,
    )
  }
  if (parsed.searchParams.has(RESUME_QUERY_PARAM) || parsed.searchParams.has(LAST_SEQ_QUERY_PARAM)) {
    throw new TypeError(
      `@session-gateway/client: the URL must not carry ${RESUME_QUERY_PARAM}= or ${LAST_SEQ_QUERY_PARAM}= (the client adds them)`,
    )
  }
}
