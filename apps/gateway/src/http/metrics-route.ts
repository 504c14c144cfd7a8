import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { ApiDeps } from './deps.js'

/** GET /metrics in the Prometheus text format. */
export const metricsRoute: FastifyPluginAsyncTypebox<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get(
    '/metrics',
    { schema: { tags: ['health'], summary: 'Prometheus metrics (text format)' } },
    async (_req, reply) => {
      const text = await deps.metrics.registry.metrics()
      return reply.type(deps.metrics.registry.contentType).send(text)
    },
  )
}
