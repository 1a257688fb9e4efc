import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

export const ROOT = join(import.meta.dirname, '..', '..')
export const CLI = join(ROOT, 'dist', 'bin', 'chainstore-networker.js')

function newest(dir: string): number {
  let latest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }
  return latest
}

/** Tests that run the built package (CLI, examples) build it first when dist is missing or stale. */
export function ensureBuilt(): void {
  const sources = Math.max(
    ...['src', 'bin', 'sim', 'bench']
      .filter((d) => existsSync(join(ROOT, d)))
      .map((d) => newest(join(ROOT, d))),
  )
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= sources) return
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' })
}
