/** A signed-in page: the JWT from its own `?access_token=` (passed on to the WebSocket URL), and its `sub`. */
export interface PageUser {
  token: string
  /** The token's `sub`, read without verifying it (the gateway verifies): for display only. */
  sub: string | undefined
}

function subOf(token: string): string | undefined {
  const payload = token.split('.')[1]
  if (payload === undefined) return undefined
  try {
    const binary = atob(payload.replaceAll('-', '+').replaceAll('_', '/'))
    const json = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)))
    const sub = (JSON.parse(json) as { sub?: unknown }).sub
    return typeof sub === 'string' ? sub : undefined
  } catch {
    return undefined
  }
}

/** The page's user, when it was opened with `?access_token=<JWT>`. */
export function pageUser(search: string): PageUser | undefined {
  const token = new URLSearchParams(search).get('access_token')
  if (token === null || token === '') return undefined
  return { token, sub: subOf(token) }
}

/** The WebSocket URL with the page's token in `access_token` (browsers cannot set an Authorization header). */
export function withToken(url: string, user: PageUser | undefined): string {
  if (!user) return url
  const parsed = new URL(url)
  parsed.searchParams.set('access_token', user.token)
  return parsed.toString()
}
