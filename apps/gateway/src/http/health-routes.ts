import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { ApiDeps } from './deps.js'

const Health = Type.Object({ status: Type.String(), node: Type.String(), uptimeMs: Type.Integer() })
const Ready = Type.Object({
  ready: Type.Boolean(),
  broker: Type.String({ description: 'connecting, open, reconnecting or closed' }),
  mode: Type.String({ description: 'amqp or embedded' }),
  shuttingDown: Type.Boolean(),
  nodeCheck: Type.String({
    description:
      "The node check (PINGs to the node's own reply address): pending, unique, conflict, unreachable (not ready) or skipped",
  }),
  brokerUrl: Type.Optional(
    Type.String({ description: 'the broker node this node is connected to (password masked)' }),
  ),
  problem: Type.Optional(
    Type.String({ description: 'why the node is not ready although the broker is open (UM queue check)' }),
  ),
})

/** GET /healthz (the process serves) and GET /readyz (the broker link is open and the node is not shutting down). */
export const healthRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness: 200 while the process serves',
        response: { 200: Health },
      },
    },
    async () => ({ status: 'ok', node: deps.nodeId, uptimeMs: Date.now() - deps.startedAt }),
  )
  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary:
          "Readiness: 200 while the broker link is open (or in embedded mode), and while a lost broker node fails over to the next AMQP_URL; 503 while connecting, while no broker node is reachable, while the User Manager queue check (UM_QUEUE_TYPE) has not passed, while the node's own reply address does not reach it, or shutting down",
        response: { 200: Ready, 503: Ready },
      },
    },
    async (_req, reply) => {
      const backend = deps.backend
      const shuttingDown = deps.isShuttingDown()
      // A broker node lost while others are left to try is a failover, not an outage: still ready.
      const connected = backend.state === 'open' || backend.failingOver === true
      const problem = backend.problem ?? deps.problem?.()
      // A node that its own reply address does not reach gets no CI message: not ready.
      const nodeCheck = backend.nodeIdCheck
      const ready = connected && problem === undefined && !shuttingDown && nodeCheck !== 'unreachable'
      return reply.code(ready ? 200 : 503).send({
        ready,
        broker: backend.state,
        mode: backend.kind,
        shuttingDown,
        nodeCheck,
        ...(backend.brokerUrl ? { brokerUrl: backend.brokerUrl } : {}),
        ...(problem ? { problem } : {}),
      })
    },
  )
}
