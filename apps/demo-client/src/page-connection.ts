import {
  type ClientState,
  connect,
  type GatewayClient,
  GatewayError,
  isGatewayError,
  type RequestOutcome,
  type ServerEvent,
  type SessionInfo,
} from '@session-gateway/client'

/** What the page hears from its connection. */
export interface ConnectionHooks {
  state(state: ClientState): void
  session(info: SessionInfo): void
  /** A server event, once (the client library drops replayed duplicates). */
  event(frame: ServerEvent): void
  /** Every text frame received, duplicates too. */
  frame(text: string, duplicate: boolean): void
  sent(text: string): void
  /** Every request's outcome, with its id and round trip (the page's and the library's `GET_SID`). */
  settled(outcome: RequestOutcome): void
  warning(message: string): void
}

export type SendResult = { ok: true; data: unknown } | { ok: false; error: GatewayError }

/**
 * The page's session with the gateway, through `@session-gateway/client`: it reconnects and
 * resumes by itself. *Disconnect* closes it (1000: the session ends), *Connect* opens a new one.
 */
export class PageConnection {
  #client: GatewayClient | undefined
  readonly #hooks: ConnectionHooks

  constructor(
    readonly url: string,
    hooks: ConnectionHooks,
  ) {
    this.#hooks = hooks
  }

  get state(): ClientState {
    return this.#client?.state ?? { status: 'closed', by: 'client' }
  }

  /** True while away with a session the next connection will try to resume. */
  get resumable(): boolean {
    return this.#client?.resumable ?? false
  }

  /** Opens a new session, unless one is open or on its way. */
  start(): void {
    if (this.#client && this.#client.state.status !== 'closed') return
    const client = connect(this.url)
    this.#client = client
    const hooks = this.#hooks
    client.observe('state', (s) => hooks.state(s))
    client.observe('session', (info) => hooks.session(info))
    client.observe('frame', (f) => hooks.frame(f.text, f.duplicate))
    client.observe('sent', (s) => hooks.sent(s.text))
    client.observe('settled', (o) => hooks.settled(o))
    client.observe('warning', (w) => hooks.warning(w.message))
    client.on('*', (_data, frame) => hooks.event(frame))
    hooks.state(client.state)
  }

  /** Ends the session (close 1000) and stays disconnected. */
  stop(): void {
    void this.#client?.close()
  }

  /**
   * Simulates a network drop: a browser cannot cut its TCP connection, so the client closes it
   * with 4000, which the gateway takes as a drop (the session detaches, PROTOCOL.md 5.3); the
   * client library then reconnects and resumes by itself.
   */
  drop(): boolean {
    return this.#client?.drop() ?? false
  }

  retryNow(): void {
    this.#client?.reconnectNow()
  }

  /** One request; never rejects (the outcome is also reported to `settled`). */
  async request(event: string, data?: unknown): Promise<SendResult> {
    if (!this.#client) {
      return { ok: false, error: new GatewayError('NOT_CONNECTED', 'not connected', event, undefined) }
    }
    try {
      return { ok: true, data: await this.#client.request(event, data) }
    } catch (err) {
      if (isGatewayError(err)) return { ok: false, error: err }
      throw err
    }
  }
}
