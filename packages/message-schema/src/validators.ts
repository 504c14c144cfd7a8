import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { Result } from './amqp-messages.js'
import { RequestId, Trace } from './common.js'
import { BACKEND_EVENT_NAME_PATTERN, EVENT_NAME_PATTERN, GATEWAY_EVENT_NAMES } from './constants.js'
import { CI_SCHEMAS, UM_SCHEMAS } from './message-tables.js'
import { ClientFrame, ErrorFrame, ReplyFrame, ServerFrame, SessionFrame } from './ws-frames.js'

// Compiled once, at module load; never per message.
export const clientFrameValidator = Compile(ClientFrame)
export const serverFrameValidator = Compile(ServerFrame)
export const replyFrameValidator = Compile(ReplyFrame)
export const errorFrameValidator = Compile(ErrorFrame)
export const sessionFrameValidator = Compile(SessionFrame)
export const requestIdValidator = Compile(RequestId)
export const traceValidator = Compile(Trace)
export const resultValidator = Compile(Result)

type Validators<Table extends Record<string, TSchema>> = {
  readonly [K in keyof Table]: ReturnType<typeof Compile<Table[K]>>
}

/** One compiled validator per entry of a schema table, under the same keys. */
function compileTable<Table extends Record<string, TSchema>>(table: Table): Validators<Table> {
  return Object.fromEntries(
    Object.entries(table).map(([type, schema]) => [type, Compile(schema)]),
  ) as Validators<Table>
}

export const ciValidators = compileTable(CI_SCHEMAS)
export const umValidators = compileTable(UM_SCHEMAS)

interface ErrorSource {
  Errors(
    value: unknown,
  ): ReadonlyArray<{ instancePath: string; message: string; keyword: string; params?: unknown }>
}

/** What a pattern means, for the patterns whose regular expression says it badly. */
const PATTERN_MEANING: Readonly<Record<string, string>> = {
  [EVENT_NAME_PATTERN]: 'must be 1-64 characters of [A-Za-z0-9_.:-]',
  [BACKEND_EVENT_NAME_PATTERN]: `must be 1-64 characters of [A-Za-z0-9_.:-] and not one of ${GATEWAY_EVENT_NAMES.join(', ')} (reserved: the gateway's own frames and Socket.IO's connection events)`,
}

/** What a schema pattern of this package means, in words, or undefined for another pattern. */
export function describePattern(pattern: unknown): string | undefined {
  return typeof pattern === 'string' && Object.hasOwn(PATTERN_MEANING, pattern)
    ? PATTERN_MEANING[pattern]
    : undefined
}

/** One readable line for the most specific schema error of `value`. */
export function describeFirstError(validator: ErrorSource, value: unknown): string {
  const errors = validator.Errors(value)
  // anyOf/union summaries say little; prefer the first concrete error.
  const concrete = errors.find((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf') ?? errors[0]
  if (!concrete) return 'does not match the schema'
  const where = concrete.instancePath === '' ? 'message' : concrete.instancePath.slice(1).replaceAll('/', '.')
  const meaning =
    concrete.keyword === 'pattern'
      ? describePattern((concrete.params as { pattern?: unknown } | undefined)?.pattern)
      : undefined
  return `${where} ${meaning ?? concrete.message}`
}
