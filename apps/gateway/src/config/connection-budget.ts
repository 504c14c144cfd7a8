/** Descriptors kept for everything but client connections: listeners, the broker link, stdio, files. */
export const FD_RESERVE = 100
/** Open connections on the separate API listener (GATEWAY_API_PORT) at most. */
export const API_MAX_CONNECTIONS = 256
/** Default GATEWAY_MAX_CONNECTIONS above SESSION_MAX: room for upgrades in progress and HTTP requests. */
export const CONNECTIONS_OVER_SESSIONS = 1000

export interface BudgetInput {
  maxSessions: number
  /** SESSION_MAX was set (not the default). */
  maxSessionsSet: boolean
  /** GATEWAY_MAX_CONNECTIONS, when set. */
  maxConnections: number | undefined
  /** A separate API listener (GATEWAY_API_PORT). */
  apiListener: boolean
}

export interface ConnectionBudget {
  /** The cap to apply (GATEWAY_MAX_CONNECTIONS, or its default fitted to the limit). */
  maxConnections: number
  /** Values that were set and cannot work: refused at start. */
  problems: string[]
  /** What the defaults had to give up, said at start. */
  warnings: string[]
}

const RAISE = 'raise the limit (ulimit -n, systemd LimitNOFILE, docker --ulimit nofile)'

/**
 * Fits the connection caps into the process's open-file limit. A value that was set and cannot fit is
 * a problem (the node would fail with EMFILE under load, when it can least afford it); a default that
 * cannot fit is lowered, with a warning.
 */
export function connectionBudget(input: BudgetInput, openFiles: number | undefined): ConnectionBudget {
  const problems: string[] = []
  const warnings: string[] = []
  const kept = FD_RESERVE + (input.apiListener ? API_MAX_CONNECTIONS : 0)
  const fit = openFiles === undefined ? Number.POSITIVE_INFINITY : openFiles - kept
  const limitText = `this process's open-file limit (${openFiles}) holds ${fit} client connections (${kept} descriptors are kept for the listeners, the broker link${input.apiListener ? `, ${API_MAX_CONNECTIONS} API connections` : ''} and files)`
  if (fit < 1) {
    problems.push(`${limitText}: too few to serve; ${RAISE}`)
    return { maxConnections: 1, problems, warnings }
  }
  if (openFiles === undefined) {
    warnings.push(
      'could not read the open-file limit: GATEWAY_MAX_CONNECTIONS is not checked against it (EMFILE under load would refuse connections and broker reconnects)',
    )
  }
  if (input.maxConnections !== undefined) {
    if (input.maxConnections > fit) {
      problems.push(
        `GATEWAY_MAX_CONNECTIONS=${input.maxConnections} does not fit: ${limitText}; ${RAISE} or lower it`,
      )
    } else if (input.maxConnections < input.maxSessions) {
      const text = `GATEWAY_MAX_CONNECTIONS=${input.maxConnections} is below SESSION_MAX=${input.maxSessions}: at most ${input.maxConnections} sessions`
      if (input.maxSessionsSet) problems.push(`${text}; raise GATEWAY_MAX_CONNECTIONS or lower SESSION_MAX`)
      else warnings.push(text)
    }
    return { maxConnections: input.maxConnections, problems, warnings }
  }
  const wanted = input.maxSessions + CONNECTIONS_OVER_SESSIONS
  if (wanted <= fit) return { maxConnections: wanted, problems, warnings }
  if (input.maxSessionsSet && input.maxSessions > fit) {
    problems.push(
      `SESSION_MAX=${input.maxSessions} does not fit: ${limitText}; ${RAISE} or lower SESSION_MAX`,
    )
  } else {
    warnings.push(
      `${limitText}, fewer than SESSION_MAX + ${CONNECTIONS_OVER_SESSIONS} (${wanted}): GATEWAY_MAX_CONNECTIONS is ${fit}${fit < input.maxSessions ? `, so at most ${fit} sessions (SESSION_MAX=${input.maxSessions} cannot be reached)` : ''}; ${RAISE}`,
    )
  }
  return { maxConnections: fit, problems, warnings }
}
