import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse, View } from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'
import type { BenchmarkResult, Curve } from './types.js'

/** A chart written next to RESULTS.md: its title and its path from there. */
export interface Chart {
  title: string
  file: string
}

const slug = (text: string): string => text.toLowerCase().replace(/[^a-z0-9]+/g, '-')

/** The Vega-Lite spec of one curve: the networker's and the baseline's figure against the count. */
export function chartSpec(curve: Curve): TopLevelSpec {
  const values = curve.points.flatMap((p) => [
    { count: p.count, value: p.networker, side: curve.networkerLabel },
    ...(p.baseline === null
      ? []
      : [{ count: p.count, value: p.baseline, side: curve.baselineLabel }]),
  ])
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `${curve.figure} per ${curve.of.replace(/s$/, '')} against the number of ${curve.of}`,
    width: 420,
    height: 220,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: {
        field: 'count',
        type: 'quantitative',
        scale: { type: 'log' },
        title: `${curve.of} (log scale)`,
      },
      y: { field: 'value', type: 'quantitative', title: curve.unit },
      color: { field: 'side', type: 'nominal', title: null },
    },
  }
}

/**
 * Renders every curve of the results as an SVG chart in `dir/charts`, with Vega-Lite
 * compiled to Vega and Vega's headless view: drawn from results.json, never by hand.
 */
export async function renderCharts(
  dir: string,
  benchmarks: readonly BenchmarkResult[],
): Promise<Map<string, Chart[]>> {
  const out = new Map<string, Chart[]>()
  for (const b of benchmarks) {
    for (const curve of b.curves ?? []) {
      const file = join('charts', `${b.name}-${slug(curve.of)}-${slug(curve.figure)}.svg`)
      const view = new View(parse(compile(chartSpec(curve)).spec), { renderer: 'none' })
      const svg = await view.toSVG()
      view.finalize()
      await mkdir(join(dir, 'charts'), { recursive: true })
      await writeFile(join(dir, file), `${svg}\n`)
      const list = out.get(b.name) ?? []
      list.push({ title: `${curve.figure} per ${curve.of.replace(/s$/, '')}`, file })
      out.set(b.name, list)
    }
  }
  return out
}
