// Qpid Proton (Debian's python3-qpid-proton) as an independent AMQP 1.0 peer: the scripts live
// with the bridge's interop tests, which describe their arguments and output.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const PYTHON = '/usr/bin/python3' // Debian's modules; the first python3 on PATH may not see them
const script = (name: string) =>
  fileURLToPath(new URL(`../../../../packages/fastify-ci-bridge/test/interop/${name}`, import.meta.url))

export interface ProtonMessage {
  body: unknown
  subject: string | null
  id: string | null
  correlation_id: string | null
  /** [AMQP type, text]: ulong in decimal, uuid canonical, binary in hex. */
  typed_correlation_id: [string, string] | null
  application_properties: Record<string, unknown> | null
  reply_to: string | null
}

export interface ProtonSpec {
  body: unknown
  encoding?: 'data' | 'value-string' | 'value-map'
  message_id: string
  id_type?: 'string' | 'ulong' | 'uuid' | 'binary'
  reply_to?: string
  application_properties?: Record<string, string>
}

/** Sends one message with proton; resolves with its outcome (`accepted`, …). */
export async function protonSend(url: string, address: string, spec: ProtonSpec): Promise<string> {
  const { stdout } = await run(
    PYTHON,
    [script('proton_send.py'), url, address, JSON.stringify({ encoding: 'data', ...spec })],
    { timeout: 30_000 },
  )
  return (JSON.parse(stdout) as { outcome: string }).outcome
}

/** Receives (and accepts) `count` messages with proton. */
export async function protonReceive(url: string, address: string, count: number): Promise<ProtonMessage[]> {
  const { stdout } = await run(PYTHON, [script('proton_receive.py'), url, address, String(count)], {
    timeout: 30_000,
  })
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ProtonMessage)
}

/** The JSON body of a data-section message proton received. */
export function protonJson(message: ProtonMessage | undefined): unknown {
  if (!message) throw new Error('no message received')
  return JSON.parse((message.body as { bytes: string }).bytes)
}
