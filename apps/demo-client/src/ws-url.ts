export const DEFAULT_WS_PATH = '/ws'

export type SocketUrlResult = { ok: true; url: string } | { ok: false; message: string }

/** What `resolveSocketUrl` needs of `window.location`. */
export interface PageLocation {
  protocol: string
  host: string
  search: string
}

/**
 * The gateway's WebSocket URL: `ws(s)://<this host>/ws`, or the `?ws=` query parameter
 * when one is given (it must be a ws:// or wss:// URL).
 */
export function resolveSocketUrl(location: PageLocation, path = DEFAULT_WS_PATH): SocketUrlResult {
  const override = new URLSearchParams(location.search).get('ws')
  if (override !== null) {
    let parsed: URL
    try {
      parsed = new URL(override)
    } catch {
      return {
        ok: false,
        message: `The ?ws= parameter "${override}" is not a URL (expected ws://host:port/ws).`,
      }
    }
    if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
      return {
        ok: false,
        message: `The ?ws= parameter must start with ws:// or wss:// (got "${parsed.protocol}").`,
      }
    }
    return { ok: true, url: parsed.toString() }
  }
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return { ok: true, url: `${scheme}//${location.host}${path}` }
}
