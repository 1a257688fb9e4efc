import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

const NAME = '@web4/chainstore-networker'

/** The package root, found by walking up: the same from bench/ and from dist/bench/. */
function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json')
    if (
      existsSync(file) &&
      (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === NAME
    ) {
      return dir
    }
    if (dirname(dir) === dir) throw new Error(`bench: no ${NAME} package.json above ${from}`)
  }
}

export const ROOT = findRoot(import.meta.dirname)
