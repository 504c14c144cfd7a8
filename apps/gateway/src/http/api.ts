import swagger from '@fastify/swagger'
import { describePattern } from '@session-gateway/message-schema'
import type { FastifyError, FastifyInstance } from 'fastify'
import { adminRoutes } from './admin-routes.js'
import type { ApiDeps } from './deps.js'
import { type DocsOptions, docsRoutes } from './docs-routes.js'
import { healthRoutes } from './health-routes.js'
import { metricsRoute } from './metrics-route.js'
import { presenceRoutes } from './presence-routes.js'

/**
 * The API's frame, before the routes of any plugin (the sessions plugin's WebSocket route too): the
 * OpenAPI document that collects the routes, and the {code, message} error and not-found answers.
 * On the WebSocket listener's app, or on the separate API listener.
 */
export async function prepareApi(app: FastifyInstance, adminToken: string | undefined): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Session gateway HTTP API',
        version: '1.0.0',
        description: 'Health, readiness, metrics and session admin of one gateway node.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  })
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      // Fastify words a pattern as its regular expression; the schemas' own patterns read better in words.
      const first = error.validation[0]
      const meaning = first?.keyword === 'pattern' ? describePattern(first.params.pattern) : undefined
      const message = meaning
        ? `${error.validationContext ?? 'request'}${first?.instancePath ?? ''} ${meaning}`
        : error.message
      return reply.code(400).send({ code: 'INVALID', message })
    }
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500
    if (status >= 500) request.log.error({ err: error }, 'request failed')
    return reply
      .code(status)
      .send({ code: error.code ?? 'INTERNAL', message: status >= 500 ? 'internal error' : error.message })
  })
  // Every error of the API is {code, message}: an unknown route too (and /v1 without GATEWAY_ADMIN_TOKEN).
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? ''
    const message =
      !adminToken && (path === '/v1' || path.startsWith('/v1/'))
        ? 'the admin API is off: set GATEWAY_ADMIN_TOKEN to turn it on'
        : `no route ${request.method} ${path}`
    return reply.code(404).send({ code: 'NOT_FOUND', message })
  })
}

/**
 * The API's routes: health, readiness, metrics, the /v1 admin API (only with a token) and the
 * OpenAPI/AsyncAPI documents. After `prepareApi` on the same app.
 */
export async function registerApiRoutes(
  app: FastifyInstance,
  deps: ApiDeps,
  docs: DocsOptions,
): Promise<void> {
  await app.register(healthRoutes, { deps })
  await app.register(metricsRoute, { deps })
  if (deps.adminToken) {
    await app.register(adminRoutes, { deps, token: deps.adminToken })
    await app.register(presenceRoutes, { deps, token: deps.adminToken })
  }
  await app.register(docsRoutes, docs)
}
