/**
 * The Prometheus text format, read back: every sample by its series (`name{a="x",b="y"}`,
 * labels sorted), and each family's TYPE. Enough to check what a scrape says.
 */
export interface Scrape {
  samples: Map<string, number>
  types: Map<string, string>
  /** The value of a series (labels in any order), or undefined when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined
}

export function seriesKey(name: string, labels: Record<string, string> = {}): string {
  const inner = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')
  return inner === '' ? name : `${name}{${inner}}`
}

export function parseScrape(text: string): Scrape {
  const samples = new Map<string, number>()
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ')
      if (name !== undefined && type !== undefined) types.set(name, type)
      continue
    }
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const pair of (match[2] ?? '').match(/[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"/g) ?? []) {
      const eq = pair.indexOf('=')
      labels[pair.slice(0, eq)] = pair.slice(eq + 2, -1)
    }
    samples.set(seriesKey(match[1] as string, labels), Number(match[3]))
  }
  return { samples, types, value: (name, labels) => samples.get(seriesKey(name, labels)) }
}
