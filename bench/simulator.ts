import { runScale, runScenario } from '../sim/index.js'
import { type Budget, settledHeap } from './harness.js'
import {
  type Benchmark,
  type BenchmarkOutput,
  goal,
  type ProfileWorkload,
  type Row,
} from './types.js'

const TOPICS = 3
const GOAL_AT_50 = 2000

interface Speed {
  virtualMs: number
  wallMs: number
  events: number
}

/** The CLI's scenario (`npm run sim -- --peers N`), one seed after another. */
async function speed(
  peers: number,
  seeds: number,
  steps: number,
  realNoise: boolean,
): Promise<Speed> {
  const total: Speed = { virtualMs: 0, wallMs: 0, events: 0 }
  for (let seed = 1; seed <= seeds; seed++) {
    const t0 = performance.now()
    const result = await runScenario({ seed, peers, topics: TOPICS, steps, realNoise })
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
  // One run of each first, not counted: modules, JIT.
  await speed(10, 1, steps, false)
  await speed(10, 1, steps, true)
  for (const realNoise of [false, true]) {
    const wire = realNoise ? 'real Noise' : 'stand-in for Noise'
    for (const peers of [10, 50]) {
      const s = await speed(peers, seeds, steps, realNoise)
      const ratio = s.virtualMs / s.wallMs
      const held = peers === 50 && !realNoise
      rows.push({
        metric: `${peers} peers, ${wire}`,
        subject: ratio,
        baseline: 1,
        unit: 'virtual s per wall s',
        ratio,
        ratioLabel: 'virtual ÷ real time',
        goal: held ? goal(`≥ ${GOAL_AT_50}`, ratio >= GOAL_AT_50) : null,
        ...(held ? { profile: 'sim-50' } : {}),
      })
      notes.push(
        `${peers} peers, ${wire}: ${(s.virtualMs / 1000).toFixed(1)} s virtual in ${(s.wallMs / 1000).toFixed(2)} s wall, ${s.events} clock tasks (${((s.wallMs * 1000) / Math.max(1, s.events)).toFixed(0)} µs wall per task).`,
      )
    }
  }
  // One network at scale (npm run sim -- --scale): it must complete; its speed and heap.
  const nodes = budget.quick ? 100 : 1000
  const topics = budget.quick ? 5 : 20
  const before = await settledHeap()
  let atMesh = before
  const t0 = performance.now()
  let completed = true
  let result: Awaited<ReturnType<typeof runScale>> | null = null
  try {
    result = await runScale({
      seed: 1,
      nodes,
      topics,
      onMesh: () => {
        globalThis.gc?.()
        atMesh = process.memoryUsage().heapUsed
      },
    })
  } catch (err) {
    completed = false
    notes.push(`The run at scale failed: ${err instanceof Error ? err.message : String(err)}`)
  }
  const wallMs = performance.now() - t0
  const connections = result?.connections ?? 0
  const scaleSpeed = (result?.virtualMs ?? 0) / wallMs
  const heapMiB = (atMesh - before) / 2 ** 20
  rows.push(
    {
      metric: `${nodes} nodes sharing ${topics} topics, stand-in for Noise`,
      subject: scaleSpeed,
      baseline: 1,
      unit: 'virtual s per wall s',
      ratio: scaleSpeed,
      ratioLabel: 'virtual ÷ real time',
      goal: goal('completes', completed),
    },
    {
      metric: `heap with the ${nodes}-node mesh up (${connections} connections)`,
      subject: heapMiB,
      baseline: connections,
      unit: 'MiB / connections',
      ratio: (heapMiB * 1024) / Math.max(1, connections),
      ratioLabel: 'KiB per connection (both ends, wire included)',
      goal: null,
    },
  )
  notes.push(
    'Virtual time is what runScenario reports (the clock at the end), as `npm run sim` does; it includes the idle settle period after the close, which the virtual clock skips in no wall time.',
    'The stand-in for Noise (sim/stand-in-stream.ts, the default of npm run sim) has the secret stream\'s interface, handshake shape and byte counts without its cryptography; "real Noise" runs real secret streams on the same wires (--real-noise).',
    `At scale: ${nodes} nodes each join one of ${topics} topics (announcing and looking up), so each topic is a full mesh; ${(wallMs / 1000).toFixed(1)} s wall. The heap is heapUsed after a full collection with the mesh up, less before the run: both ends of every connection, the simulated wires and the DHT.`,
  )
  return {
    title: 'Simulator speed',
    subjectLabel: `runScenario (faults on, ${TOPICS} topics, ${steps} steps); runScale`,
    baselineLabel: 'real time',
    rows,
    params: { seeds, steps, topics: TOPICS, 'nodes and topics at scale': `${nodes}, ${topics}` },
    notes,
  }
}

const profileSim: ProfileWorkload = async (quick) => async () => {
  await speed(50, quick ? 1 : 2, quick ? 10 : 60, false)
}

export const simulator: Benchmark = {
  name: 'simulator',
  run,
  profiles: { 'sim-50': profileSim },
}
