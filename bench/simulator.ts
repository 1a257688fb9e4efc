import { runScenario } from '../sim/index.js'
import type { Budget } from './harness.js'
import {
  type Benchmark,
  type BenchmarkOutput,
  goal,
  type ProfileWorkload,
  type Row,
} from './types.js'

const TOPICS = 3
const GOAL_AT_50 = 1000

interface Speed {
  virtualMs: number
  wallMs: number
  events: number
}

/** The CLI's scenario (`npm run sim -- --peers N`), one seed after another. */
async function speed(peers: number, seeds: number, steps: number): Promise<Speed> {
  const total: Speed = { virtualMs: 0, wallMs: 0, events: 0 }
  for (let seed = 1; seed <= seeds; seed++) {
    const t0 = performance.now()
    const result = await runScenario({ seed, peers, topics: TOPICS, steps })
    total.wallMs += performance.now() - t0
    total.virtualMs += result.virtualMs
    total.events += result.events
  }
  return total
}

async function run(budget: Budget): Promise<BenchmarkOutput> {
  const seeds = budget.quick ? 1 : 10
  const steps = budget.quick ? 10 : 60
  const rows: Row[] = []
  const notes: string[] = []
  for (const peers of [10, 50]) {
    const s = await speed(peers, seeds, steps)
    const ratio = s.virtualMs / s.wallMs
    rows.push({
      metric: `${peers} peers`,
      subject: ratio,
      baseline: 1,
      unit: 'virtual s per wall s',
      ratio,
      ratioLabel: 'virtual ÷ real time',
      goal: peers === 50 ? goal(`≥ ${GOAL_AT_50}`, ratio >= GOAL_AT_50) : null,
      ...(peers === 50 ? { profile: 'sim-50' } : {}),
    })
    notes.push(
      `${peers} peers: ${(s.virtualMs / 1000).toFixed(1)} s virtual in ${(s.wallMs / 1000).toFixed(2)} s wall, ${s.events} clock tasks (${((s.wallMs * 1000) / Math.max(1, s.events)).toFixed(0)} µs wall per task).`,
    )
  }
  notes.push(
    'Virtual time is what runScenario reports (the clock at the end), as `npm run sim` does; it includes the idle settle period after the close, which the virtual clock skips in no wall time.',
  )
  return {
    title: 'Simulator speed',
    subjectLabel: `runScenario (faults on, ${TOPICS} topics, ${steps} steps)`,
    baselineLabel: 'real time',
    rows,
    params: { seeds, steps, topics: TOPICS },
    notes,
  }
}

const profileSim: ProfileWorkload = async (quick) => async () => {
  await speed(50, quick ? 1 : 2, quick ? 10 : 60)
}

export const simulator: Benchmark = {
  name: 'simulator',
  run,
  profiles: { 'sim-50': profileSim },
}
