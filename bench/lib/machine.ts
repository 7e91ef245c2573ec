/**
 * What the results were measured on: hardware, software versions, and how
 * busy the machine was (others' work makes absolute numbers noisy; ratios
 * within a round are what the harness is built to compare).
 */
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import { hardFileLimit, hasTool, type Placement } from './processes.ts'

export interface Machine {
  cpu: string
  cores: number
  memoryGiB: number
  kernel: string
  node: string
  tools: Record<string, string>
  fileLimit: number
  placement: Placement
  loadAverageAtStart: number[]
  loadAverageAtEnd?: number[]
  /** Share of the machine (all cores) other processes used during measurements, 0..1. */
  foreignCpuShare?: { median: number; max: number }
}

export function describeMachine(placement: Placement): Machine {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    tools: {
      wrk: version('wrk', ['--version']),
      nginx: version('nginx', ['-v']),
      haproxy: version('haproxy', ['-v']),
    },
    fileLimit: hardFileLimit(),
    placement,
    loadAverageAtStart: loadAverage(),
  }
}

export function loadAverage(): number[] {
  return os.loadavg().map((l) => Math.round(l * 100) / 100)
}

/** version returns the first line a tool prints about itself (some print on stderr). */
function version(tool: string, args: string[]): string {
  if (!hasTool(tool)) return 'not installed'
  try {
    const out = execFileSync('sh', ['-c', `${tool} ${args.join(' ')} 2>&1 || true`], { encoding: 'utf8' })
    return out.trim().split('\n')[0]!.slice(0, 120)
  } catch {
    return 'unknown'
  }
}

/** placement pins load to core 0 and the contestant to core 1 when there are two cores and taskset. */
export function choosePlacement(): Placement {
  if (os.cpus().length < 2)
    return { loadCpu: undefined, contestantCpu: undefined, note: 'one core: nothing pinned' }
  if (!hasTool('taskset'))
    return { loadCpu: undefined, contestantCpu: undefined, note: 'taskset not found: nothing pinned' }
  return { loadCpu: 0, contestantCpu: 1 }
}
