import { broadcast } from './broadcast.js'
import { coreDedup } from './core-dedup.js'
import { endToEnd } from './end-to-end.js'
import { extensionThroughput } from './extension-throughput.js'
import { observability } from './observability.js'
import { scale } from './scale.js'
import { simulator } from './simulator.js'
import type { Benchmark } from './types.js'

/** Every benchmark, in the order they run and are reported. */
export const BENCHMARKS: readonly Benchmark[] = [
  coreDedup,
  extensionThroughput,
  broadcast,
  observability,
  scale,
  endToEnd,
  simulator,
]
