/**
 * How much of the machine something other than the benchmark used during a
 * measurement. Other people's test runs on the same cores are the main
 * source of noise; recording it says which numbers to trust.
 *
 * Ours is the harness (whose reaped children — wrk, the clients, stopped
 * contestants — are in its cutime/cstime) plus every process still running
 * in one of our process groups. The machine's busy time counts user, nice
 * and system only: interrupt time is not charged to any process, ours or
 * not.
 */
import { readdirSync, readFileSync } from 'node:fs'
import os from 'node:os'

export interface CpuMark {
  machineTicks: number
  oursTicks: number
  at: number
}

const TICKS_PER_SECOND = 100

export function cpuMark(groups: ReadonlySet<number>): CpuMark {
  return { machineTicks: machineBusy(), oursTicks: ourTicks(groups), at: performance.now() }
}

/**
 * foreignShare is the share of the whole machine (all cores) that others
 * used between two marks, 0..1. Approximate: ticks are 10 ms.
 */
export function foreignShare(from: CpuMark, to: CpuMark): number {
  const seconds = (to.at - from.at) / 1000
  if (seconds <= 0) return 0
  const foreign = to.machineTicks - from.machineTicks - (to.oursTicks - from.oursTicks)
  return Math.max(0, foreign / TICKS_PER_SECOND / seconds / os.cpus().length)
}

function machineBusy(): number {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!
  const [, user, nice, system] = line.trim().split(/\s+/).map(Number)
  return user! + nice! + system!
}

/** ourTicks sums CPU ticks of the harness (with reaped children) and of live processes in `groups`. */
function ourTicks(groups: ReadonlySet<number>): number {
  let total = processTicks(String(process.pid), true)
  for (const entry of readdirSync('/proc')) {
    const c = entry.charCodeAt(0)
    if (c < 48 || c > 57 || entry === String(process.pid)) continue
    total += processTicks(entry, false, groups)
  }
  return total
}

function processTicks(pid: string, withChildren: boolean, groups?: ReadonlySet<number>): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    // After "(comm) ": state ppid pgrp … utime is field 14 overall, i.e. index 11 here.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (groups && !groups.has(Number(f[2]))) return 0
    const own = Number(f[11]) + Number(f[12])
    // Children reaped by the process: ours for the harness, and nginx's/haproxy's own.
    return own + (withChildren || groups ? Number(f[13]) + Number(f[14]) : 0)
  } catch {
    return 0
  }
}
