// A strict TypeScript consumer of the three packages as npm installs them: the published types
// must compile without skipLibCheck, with and without exactOptionalPropertyTypes.
import {
  type CiMessage,
  type ClientFrame,
  decodeClientFrame,
  resultOk,
  type Trace,
} from '@session-gateway/message-schema'
import Fastify from 'fastify'
import fastifyCiBridge, {
  type AmqpId,
  type CiBridgeOptions,
  isBridgeError,
  type ReceivedMeta,
  type SendOptions,
} from 'fastify-ci-bridge'
import fastifyWsSessions, { type Session, SessionError, type WsSessionsOptions } from 'fastify-ws-sessions'

const sessions: WsSessionsOptions = {
  path: '/ws',
  onConnect: (session: Session) => {
    const agent: string | undefined = session.userAgent
    session.log.info({ agent }, 'connected')
  },
  onEvent: (_session, _data, frame: ClientFrame) => {
    const trace: Trace | undefined = frame.trace
    if (!trace) throw new SessionError('INVALID', 'send a trace')
    return { traced: trace.traceparent }
  },
}

const bridge: CiBridgeOptions = {
  url: 'amqp://guest:guest@127.0.0.1:5672',
  nodeId: 'consumer-1',
  queuePrefix: 'consumer.',
  onMessage: (message: CiMessage, meta: ReceivedMeta) => {
    const id: AmqpId | undefined = meta.amqpMessageId
    const text: string = id?.type === 'ulong' ? id.value.toString() : String(id?.value)
    void text
    void message.type
  },
}
const options: SendOptions = { messageId: { type: 'ulong', value: 7n }, applicationProperties: { a: 'b' } }

export async function build() {
  const app = Fastify()
  await app.register(fastifyWsSessions, sessions)
  await app.register(fastifyCiBridge, bridge)
  const decoded = decodeClientFrame('{"event":"e"}')
  if (decoded.ok) app.wsSessions.broadcast(decoded.frame.event, resultOk({}))
  try {
    await app.ciBridge.send('/queue/x', { type: 'PING', v: 1 }, options)
  } catch (error) {
    if (isBridgeError(error)) app.log.warn({ code: error.code }, 'not sent')
  }
  return app
}
