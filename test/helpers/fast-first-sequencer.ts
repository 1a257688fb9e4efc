import { relative } from 'node:path'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

/**
 * For mutation testing: a mutant is killed by its first failing test (Stryker runs vitest
 * with bail), so the files that fail or finish soonest go first. A file that just failed
 * (killed the last mutant; its neighbours in the source likely fall to it too) comes first,
 * then the quickest by their last duration, then the smallest. Vitest's own order is the
 * reverse (longest first, to balance workers), which makes every mutant wait for the slowest
 * file before the one that kills it. The order changes no result: each file runs isolated.
 */
export class FastFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const { cache, config } = this.ctx
    const key = (file: TestSpecification): string =>
      `${file.project.name}:${relative(config.root, file.moduleId)}`
    const rank = (file: TestSpecification): [number, number, number] => {
      const result = cache.getFileTestResults(key(file))
      const size = cache.getFileStats(key(file))?.size ?? Number.MAX_SAFE_INTEGER
      if (result === undefined) return [1, Number.MAX_SAFE_INTEGER, size]
      return [result.failed ? 0 : 1, result.duration, size]
    }
    const ranks = new Map(files.map((file) => [file, rank(file)]))
    return [...files].sort((a, b) => {
      const ra = ranks.get(a) as [number, number, number]
      const rb = ranks.get(b) as [number, number, number]
      return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2]
    })
  }
}
