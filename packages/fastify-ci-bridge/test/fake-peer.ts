// An in-process AMQP 1.0 peer (rhea listening on port 0) for outcomes RabbitMQ cannot produce on demand.
import type { AddressInfo, Server } from 'node:net'
import rhea, { type Connection, type Delivery, type Message, type Receiver } from 'rhea'

export interface PeerDelivery {
  message: Message
  delivery: Delivery
  receiver: Receiver
  connection: Connection
  /** 1 for the peer's first connection, 2 for the next, ... */
  connectionNumber: number
}

export interface FakePeer {
  url: string
  received: PeerDelivery[]
  connections: number
  close(): Promise<void>
}

/**
 * Accepts any SASL PLAIN login, opens every link asked for, gives credit, and hands each message
 * to `onMessage`, which settles it (or not) as the test wants.
 */
export async function startFakePeer(
  onMessage: (delivery: PeerDelivery) => void,
  onAttach?: (link: Receiver, connectionNumber: number) => void,
  tls?: { key: string; cert: string },
): Promise<FakePeer> {
  const container = rhea.create_container({ id: 'fake-peer', autoaccept: false })
  container.sasl_server_mechanisms.enable_plain(() => true)
  container.on('error', () => {})
  const connections = new Set<Connection>()
  const peer: FakePeer = { url: '', received: [], connections: 0, close: async () => {} }
  container.on('connection_open', (context: { connection: Connection }) => {
    peer.connections += 1
    connections.add(context.connection)
    const number = peer.connections
    ;(context.connection as Connection & { peerNumber?: number }).peerNumber = number
    context.connection.on('error', () => {})
    context.connection.on('disconnected', () => connections.delete(context.connection))
  })
  container.on('receiver_open', (context: { receiver?: Receiver; connection: Connection }) => {
    const number = (context.connection as Connection & { peerNumber?: number }).peerNumber ?? 0
    if (context.receiver) onAttach?.(context.receiver, number)
  })
  container.on(
    'message',
    (context: { message?: Message; delivery?: Delivery; receiver?: Receiver; connection: Connection }) => {
      if (!context.message || !context.delivery || !context.receiver) return
      const entry: PeerDelivery = {
        message: context.message,
        delivery: context.delivery,
        receiver: context.receiver,
        connection: context.connection,
        connectionNumber: (context.connection as Connection & { peerNumber?: number }).peerNumber ?? 0,
      }
      peer.received.push(entry)
      onMessage(entry)
    },
  )
  const server: Server = tls
    ? container.listen({ port: 0, host: '127.0.0.1', transport: 'tls', key: tls.key, cert: tls.cert })
    : container.listen({ port: 0, host: '127.0.0.1' })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  const { port } = server.address() as AddressInfo
  peer.url = tls ? `amqps://user:pass@localhost:${port}` : `amqp://user:pass@127.0.0.1:${port}`
  peer.close = async () => {
    for (const connection of connections) cut(connection)
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return peer
}

/** Cuts one connection the hard way (like a broker crash: no close frame, no outcome). */
export function cut(connection: Connection): void {
  // rhea's abort_socket drops the socket and clears the connection's heartbeat timers.
  const internals = connection as Connection & { socket?: unknown; abort_socket?: (socket: unknown) => void }
  if (internals.socket) internals.abort_socket?.(internals.socket)
}
