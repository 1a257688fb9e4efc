import { spawn } from 'node:child_process'

/**
 * Runs a script of the bench in a Node process of its own (with `--expose-gc`, as the bench
 * runs), its standard error shown and its output ignored; rejects unless it exits 0. A
 * benchmark (run.ts) and a profile (profile.ts) each run alone this way, so what the rest of
 * the run left behind does not change their figures.
 */
export function runNodeChild(script: string, args: readonly string[], what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', script, ...args], {
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    child.once('error', reject)
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`bench: ${what} exited ${code}`)),
    )
  })
}
