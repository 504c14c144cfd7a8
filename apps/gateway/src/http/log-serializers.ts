import type { FastifyRequest } from 'fastify'

/** The URL with token query parameters replaced, so that no token reaches a log line. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:access_token|token)=)[^&#]*/gi, '$1[redacted]')
}

/** pino serializers for the gateway's logger. */
export const logSerializers = {
  req(request: FastifyRequest) {
    return {
      method: request.method,
      url: redactUrl(request.url),
      remoteAddress: request.ip,
    }
  },
}
