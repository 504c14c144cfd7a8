import { readFileSync } from 'node:fs'

const TIME_WAIT = '06'

/** Sockets in TIME_WAIT on the machine (IPv4 and IPv6). */
export function timeWaitCount(): number {
  let count = 0
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    const lines = text.split('\n')
    for (let i = 1; i < lines.length; i++) {
      // "  sl  local_address rem_address   st ..."
      const fields = lines[i]?.trim().split(/\s+/)
      if (fields && fields[3] === TIME_WAIT) count++
    }
  }
  return count
}

/** Waits (at most `maxMs`) until fewer than `below` sockets are in TIME_WAIT; returns the count then. */
export async function waitForTimeWait(below: number, maxMs: number): Promise<number> {
  const until = performance.now() + maxMs
  let count = timeWaitCount()
  while (count >= below && performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 500))
    count = timeWaitCount()
  }
  return count
}
