import { fmt } from './format.js'
import type { Results } from './report.js'
import type { Row } from './types.js'

/**
 * The plain-language paragraph RESULTS.md opens with: what is as fast as doing it by hand,
 * what is slower and by how much, what it costs. Written from the figures of the run (so it
 * stays true when the benchmarks are rerun); a sentence whose figures the run lacks (an
 * `--only` run) is left out.
 */
export function plainSummary(results: Results): string[] {
  if (results.mode === 'quick') {
    return [
      '**Quick run: a smoke test that every benchmark runs. Its figures are not measurements; do not quote them.**',
    ]
  }
  const row = (bench: string, metric: string): Row | undefined =>
    results.benchmarks.find((b) => b.name === bench)?.rows.find((r) => r.metric.startsWith(metric))
  const times = (r: Row): string => `${fmt(r.ratio)}×`
  const sentences: string[] = []

  const ext = ['64 B messages', '1 KiB messages', '64 KiB messages']
    .map((m) => row('extension-throughput', m))
    .filter((r): r is Row => r !== undefined)
  const wide = row('broadcast', 'broadcast to 256 peers')
  if (ext.length > 0) {
    sentences.push(
      `**As fast as by hand:** extension messages run at the speed of a raw Protomux message on the same connection (${ext.map((r) => `${r.metric.replace(' messages', '')} ${times(r)}`).join(', ')} of raw)${wide === undefined ? '' : `, and a broadcast to 256 peers at ${times(wide)} of a loop of raw sends`}.`,
    )
  }
  const first = row('end-to-end', 'configure → first replicated block')
  const all = row('end-to-end', 'configure → all')
  if (first !== undefined) {
    const extra = first.subject - first.baseline
    sentences.push(
      `**Slower than hand-wiring Hyperswarm and Corestore:** on a local testnet the first replicated block arrives ${fmt(first.subject)} ms after configure against ${fmt(first.baseline)} ms (${times(first)}, ${extra >= 0 ? `${fmt(extra)} ms more` : `${fmt(-extra)} ms less`})${all === undefined ? '' : `, and ${all.metric.replace('configure → ', '')} after ${fmt(all.subject)} ms against ${fmt(all.baseline)} ms (${times(all)})`}.`,
    )
  }
  const conn = row(
    'core-dedup',
    'core cost per connection vs one side of a Noise handshake, CPU (10000',
  )
  const peer = row('scale', 'heap per peer beyond its connection')
  const topic = row('scale', 'heap per topic (')
  const configure = row('scale', 'configure, time per topic')
  const costs: string[] = []
  if (conn !== undefined)
    costs.push(
      `a connection costs ${fmt(conn.subject)} µs of the core's work (${fmt(conn.ratio * 100)}% of one side of its Noise handshake)`,
    )
  if (peer !== undefined)
    costs.push(`a peer ${fmt(peer.subject / 1024)} KiB of heap beyond its connection`)
  if (topic !== undefined)
    costs.push(
      `a topic ${fmt(topic.subject / 1024)} KiB of heap (a bare swarm session: ${fmt(topic.baseline)} B)${configure === undefined ? '' : ` and ${fmt(configure.subject)} µs to configure`}`,
    )
  if (costs.length > 0) sentences.push(`**What it costs:** ${costs.join('; ')}.`)
  const sim = row('simulator', '50 peers, stand-in')
  if (sim !== undefined) {
    sentences.push(
      `**Simulator:** 50 peers run at ${fmt(sim.subject)}× real time (this is the figure the README quotes).`,
    )
  }
  return sentences.length === 0 ? [] : [sentences.join(' ')]
}
