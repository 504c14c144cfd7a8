import { buildAsyncApiDocument } from '@session-gateway/message-schema'
import type { FastifyPluginAsync } from 'fastify'

export interface DocsOptions {
  wsPath: string
  addresses: { umAddress?: string; nodeAddress?: string; broadcastAddress?: string }
}

/** GET /docs/openapi.json (from the route schemas, via @fastify/swagger) and GET /docs/asyncapi.json. */
export const docsRoutes: FastifyPluginAsync<DocsOptions> = async (app, options) => {
  const asyncapi = buildAsyncApiDocument({ wsPath: options.wsPath, ...options.addresses })
  app.get('/docs/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  app.get('/docs/asyncapi.json', { schema: { hide: true } }, async () => asyncapi)
}
