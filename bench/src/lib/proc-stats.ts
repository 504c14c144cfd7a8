import { readFileSync } from 'node:fs'

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICKS_PER_SEC = 100

/** Resident set size of a process, in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  if (!match?.[1]) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(match[1]) * 1024
}

/** CPU time (user + system) a process has used so far, in seconds. */
export function cpuSeconds(pid: number): number {
  const { user, system } = cpuSplit(pid)
  return user + system
}

/** User and system (kernel: system calls, the loopback TCP path they run) CPU time so far, in seconds. */
export function cpuSplit(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name may hold spaces: fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { user: Number(fields[11]) / TICKS_PER_SEC, system: Number(fields[12]) / TICKS_PER_SEC }
}

/**
 * Read-like and write-like system calls a process has made so far (syscr and syscw of
 * /proc/<pid>/io: read, readv, recv... and write, writev, send...); undefined when it cannot be read
 * (another user's process without the right to ptrace it).
 */
export function syscallCounts(pid: number): { reads: number; writes: number } | undefined {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8')
    const reads = /^syscr:\s+(\d+)/m.exec(io)?.[1]
    const writes = /^syscw:\s+(\d+)/m.exec(io)?.[1]
    if (reads === undefined || writes === undefined) return undefined
    return { reads: Number(reads), writes: Number(writes) }
  } catch {
    return undefined
  }
}

/** CPU time the whole machine has been busy (all cores, everything but idle and iowait), in seconds. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? ''
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number)
  return (
    ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / TICKS_PER_SEC
  )
}

/**
 * Waits (at most `maxMs`) until the whole machine used less than `cores` over one second: the work a
 * round left behind (the broker and a UM taking 19,000 `CLIENT_DISCONNECTED`s after a reset) is done
 * before the next round is measured. Returns the last second's share.
 */
export async function waitForQuietMachine(cores: number, maxMs: number): Promise<number> {
  const until = performance.now() + maxMs
  for (;;) {
    const before = machineBusySeconds()
    const start = performance.now()
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const share = (machineBusySeconds() - before) / ((performance.now() - start) / 1000)
    if (share < cores || performance.now() > until) return share
  }
}

export interface CpuShares {
  /** CPU share of each measured process, in the order given (1.0 = one core). */
  processes: number[]
  /** CPU share of the whole machine. */
  machine: number
  /** What the rest of the machine used meanwhile: noise from outside the measurement. */
  others: number
  /** CPU seconds of each measured process over the window (the shares times the window). */
  cpuSeconds: number[]
  /** Of those, the seconds spent in the kernel (system time). */
  systemSeconds: number[]
  /** Read and write system calls of each measured process over the window (null: unreadable). */
  syscalls: Array<{ reads: number; writes: number } | null>
  /** Length of the window, in seconds. */
  seconds: number
}

/** Measures the CPU share (1.0 = one core) processes used between start() and stop(). */
export class CpuMeter {
  readonly #pids: number[]
  #startCpu: number[] = []
  #startSystem: number[] = []
  #startSyscalls: Array<{ reads: number; writes: number } | undefined> = []
  #startMachine = 0
  #startAt = 0

  constructor(pids: number[]) {
    this.#pids = pids
  }

  start(): void {
    const split = this.#pids.map(cpuSplit)
    this.#startCpu = split.map((s) => s.user + s.system)
    this.#startSystem = split.map((s) => s.system)
    this.#startSyscalls = this.#pids.map(syscallCounts)
    this.#startMachine = machineBusySeconds()
    this.#startAt = performance.now()
  }

  stop(): CpuShares {
    const seconds = (performance.now() - this.#startAt) / 1000
    const split = this.#pids.map(cpuSplit)
    const used = split.map((s, i) => s.user + s.system - (this.#startCpu[i] ?? 0))
    const system = split.map((s, i) => Math.round((s.system - (this.#startSystem[i] ?? 0)) * 1000) / 1000)
    const syscalls = this.#pids.map((pid, i) => {
      const before = this.#startSyscalls[i]
      const after = syscallCounts(pid)
      if (!before || !after) return null
      return { reads: after.reads - before.reads, writes: after.writes - before.writes }
    })
    const processes = used.map((s) => round2(s / seconds))
    const machine = round2((machineBusySeconds() - this.#startMachine) / seconds)
    const ours = processes.reduce((a, b) => a + b, 0)
    return {
      processes,
      machine,
      others: round2(Math.max(0, machine - ours)),
      cpuSeconds: used.map((s) => Math.round(s * 1000) / 1000),
      systemSeconds: system,
      syscalls,
      seconds: Math.round(seconds * 1000) / 1000,
    }
  }
}

export function round2(n: number): number {
  return Math.round(n * 100) / 100
}
