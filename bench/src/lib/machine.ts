import { cpus, freemem, hostname, loadavg, release, totalmem } from 'node:os'

export interface MachineInfo {
  cores: number
  cpuModel: string
  memoryBytes: number
  freeMemoryBytes: number
  node: string
  platform: string
  kernel: string
  hostname: string
  loadAverage: number[]
}

export function machineInfo(): MachineInfo {
  const list = cpus()
  return {
    cores: list.length,
    cpuModel: list[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    freeMemoryBytes: freemem(),
    node: process.version,
    platform: process.platform,
    kernel: release(),
    hostname: hostname(),
    loadAverage: loadavg(),
  }
}
