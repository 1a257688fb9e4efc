import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'

/** CPU time the whole machine has spent busy, in ms (Linux: /proc/stat), or null elsewhere. */
function machineBusyMs(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
    // cpu  user nice system idle iowait irq softirq steal …, in clock ticks (USER_HZ, 100/s).
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number)
    const ticks = [user, nice, system, irq, softirq, steal].reduce<number>(
      (a, b) => a + (b ?? 0),
      0,
    )
    return Number.isFinite(ticks) ? ticks * 10 : null
  } catch {
    return null
  }
}

export interface OtherLoad {
  /** Cores other processes kept busy on average (this process's own CPU taken out). */
  otherCores: number
  cores: number
}

/**
 * Watches what other processes do while a measurement runs: the machine's busy CPU time
 * less this process's own, over the wall time. A timing compared against a baseline run in
 * turn is only as good as the machine is quiet; a verdict is withheld when it was not.
 */
export function watchOtherLoad(): () => OtherLoad | null {
  const busy0 = machineBusyMs()
  const own0 = process.cpuUsage()
  const t0 = performance.now()
  return () => {
    const busy1 = machineBusyMs()
    if (busy0 === null || busy1 === null) return null
    const own = process.cpuUsage(own0)
    const ownMs = (own.user + own.system) / 1000
    const wallMs = performance.now() - t0
    const otherCores = Math.max(0, (busy1 - busy0 - ownMs) / Math.max(1, wallMs))
    return { otherCores, cores: cpus().length }
  }
}

/** Busy: other processes kept more than a quarter of one core busy on average. */
export const BUSY_CORES = 0.25
