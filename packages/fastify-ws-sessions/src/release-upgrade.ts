import { ServerResponse } from 'node:http'
import type { FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'

/**
 * Lets the upgrade's HTTP objects go once the session holds the socket. Two references would keep
 * them alive for as long as the connection lasts (about 3 KB per session):
 * - @fastify/websocket's 'error' listener on the WebSocket closes over the request and its reply;
 *   the session has its own listener, so `inherited` (the listeners present before the session
 *   existed) are removed;
 * - the TCP socket's `_httpMessage` still points at the ServerResponse @fastify/websocket assigned
 *   to it (and through it at the IncomingMessage); `detachSocket` clears it, as Node does itself
 *   when a response finishes.
 */
export function releaseUpgrade(
  socket: WebSocket,
  request: FastifyRequest,
  inherited: ReadonlyArray<(...args: unknown[]) => void>,
): void {
  for (const listener of inherited) socket.removeListener('error', listener)
  const raw = request.raw.socket as (typeof request.raw.socket & { _httpMessage?: unknown }) | null
  const response = raw?._httpMessage
  if (raw && response instanceof ServerResponse) response.detachSocket(raw)
}
