import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'

/** The built demo page's folder, or undefined when the demo client is not built. */
export function demoPageRoot(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('@session-gateway/demo-client/package.json')
    const root = join(dirname(pkg), 'dist')
    return existsSync(join(root, 'index.html')) ? root : undefined
  } catch {
    return undefined
  }
}

/** Serves the demo page at `/` when it has been built. */
export async function registerDemoPage(app: FastifyInstance): Promise<boolean> {
  const root = demoPageRoot()
  if (!root) {
    app.log.warn('demo page not built (pnpm build): / is not served')
    return false
  }
  await app.register(fastifyStatic, { root, prefix: '/', index: ['index.html'], schemaHide: true })
  return true
}
