import { type Trace, traceValidator } from '@session-gateway/message-schema'

/** A client frame's `trace` as AMQP application_properties (W3C Trace Context names). */
export function traceProperties(trace: Trace): Record<string, string> {
  return { traceparent: trace.traceparent, ...(trace.tracestate ? { tracestate: trace.tracestate } : {}) }
}

/** The W3C Trace Context a received message carries in its application_properties, when valid. */
export function traceOf(properties: Record<string, unknown> | undefined): Trace | undefined {
  if (!properties || typeof properties.traceparent !== 'string') return undefined
  const trace = {
    traceparent: properties.traceparent,
    ...(typeof properties.tracestate === 'string' ? { tracestate: properties.tracestate } : {}),
  }
  return traceValidator.Check(trace) ? trace : undefined
}
