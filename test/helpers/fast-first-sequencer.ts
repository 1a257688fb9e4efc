import { relative } from 'node:path'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

/**
 * The test that loads every core module inside a test goes before everything: a static
 * mutant that makes a module throw while it loads fails every other file at its imports, and
 * with bail the run stops at that first file without a single failed test, which Stryker's
 * vitest runner counts as a survived mutant.
 */
const LOADS_FIRST = 'test/core/modules-load.test.ts'

/**
 * For mutation testing: a mutant is killed by its first failing test (Stryker runs vitest
 * with bail), so the files that fail or finish soonest go first. A file that just failed
 * (killed the last mutant; its neighbours in the source likely fall to it too) comes first,
 * then the quickest by their last duration, then the smallest (after LOADS_FIRST). Vitest's own order is the
 * reverse (longest first, to balance workers), which makes every mutant wait for the slowest
 * file before the one that kills it. The order changes no result: each file runs isolated.
 */
export class FastFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const { cache, config } = this.ctx
    const key = (file: TestSpecification): string =>
      `${file.project.name}:${relative(config.root, file.moduleId)}`
    const rank = (file: TestSpecification): [number, number, number] => {
      if (relative(config.root, file.moduleId) === LOADS_FIRST) return [-1, 0, 0]
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
