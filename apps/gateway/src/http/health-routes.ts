import type { FastifyPluginAsync } from 'fastify'
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
})

/** GET /healthz (the process serves) and GET /readyz (the broker link is open and the node is not shutting down). */
export const healthRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
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
          "Readiness: 200 while the broker link is open (or in embedded mode); 503 while connecting, reconnecting, shutting down, or while the node's own reply address does not reach it",
        response: { 200: Ready, 503: Ready },
      },
    },
    async (_req, reply) => {
      const backend = deps.backend()
      const shuttingDown = deps.isShuttingDown()
      // A node that its own reply address does not reach gets no CI message: not ready.
      const nodeCheck = backend.nodeIdCheck
      const ready = backend.state === 'open' && !shuttingDown && nodeCheck !== 'unreachable'
      return reply
        .code(ready ? 200 : 503)
        .send({ ready, broker: backend.state, mode: backend.kind, shuttingDown, nodeCheck })
    },
  )
}
