import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { expect } from 'vitest'
import { CLI } from '../helpers/build.js'

/** The real command in its own process: stdout as bytes and lines, stderr, exit code. */
export interface Running {
  child: ChildProcess
  stdout(): Buffer
  stderr(): string
  /** Resolves with the exit code (null if a signal killed it). */
  exited: Promise<number | null>
  /** The first stdout line (or stderr line, with `from: 'stderr'`) matching, within `ms`. */
  line(
    test: (l: string) => boolean,
    opts?: { ms?: number; from?: 'stdout' | 'stderr' },
  ): Promise<string>
}

export function startIn(
  cwd: string,
  children: ChildProcess[],
  args: string[],
  opts: { stdin?: Buffer | 'pipe' } = {},
): Running {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  })
  children.push(child)
  if (Buffer.isBuffer(opts.stdin)) child.stdin?.end(opts.stdin)
  const chunks: Buffer[] = []
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => chunks.push(c))
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    stderr += c
  })
  const stdout = () => Buffer.concat(chunks)
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  )
  const line: Running['line'] = (test, { ms = 20_000, from = 'stdout' } = {}) =>
    new Promise<string>((resolve, reject) => {
      const stream = from === 'stdout' ? child.stdout : child.stderr
      const text = () => (from === 'stdout' ? stdout().toString('utf8') : stderr)
      const check = (): boolean => {
        const found = text().split('\n').find(test)
        if (found === undefined) return false
        clearTimeout(timer)
        stream?.off('data', check)
        resolve(found)
        return true
      }
      const timer = setTimeout(() => {
        stream?.off('data', check)
        reject(new Error(`no such line from ${args[0]} within ${ms} ms; stderr: ${stderr}`))
      }, ms)
      // Listen after the collector above, so `text()` already holds the chunk being checked.
      if (!check()) stream?.on('data', check)
    })
  return { child, stdout, stderr: () => stderr, exited, line }
}

export function runIn(
  cwd: string,
  args: string[],
  opts: { input?: Buffer; timeout?: number } = {},
) {
  return spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: opts.timeout ?? 30_000,
    ...(opts.input === undefined ? {} : { input: opts.input }),
  })
}

/** The README's promise: one line on stderr, `chainstore-networker: …`, exit code 1, no stack. */
export function expectOneLineError(
  r: { status: number | null; stderr: string },
  message: RegExp,
): void {
  expect(r.status, r.stderr).toBe(1)
  expect(r.stderr.trimEnd()).toMatch(message)
  expect(r.stderr).toMatch(/^chainstore-networker: /)
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1)
  expect(r.stderr).not.toMatch(/\n\s+at /)
}

export const json = (line: string) => JSON.parse(line) as Record<string, unknown>

/** Every line of a --json output, parsed. */
export const events = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map(json)
