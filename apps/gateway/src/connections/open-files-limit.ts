import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/**
 * The open-file (descriptor) limit of this process, soft, as the kernel applies it: from
 * /proc/self/limits on Linux, else `ulimit -Sn` of a shell (which inherits it); undefined when neither
 * says (or it is unlimited). Node raises the soft limit to the hard one at start, so this is what the
 * process can really open.
 */
export function openFilesLimit(): number | undefined {
  try {
    const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    if (match) return match[1] === 'unlimited' ? undefined : Number(match[1])
  } catch {
    // not Linux: ask a shell
  }
  try {
    const text = execFileSync('sh', ['-c', 'ulimit -Sn'], { encoding: 'utf8', timeout: 2000 }).trim()
    return /^\d+$/.test(text) ? Number(text) : undefined
  } catch {
    return undefined
  }
}
