import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from '../helpers/build.js'

const SCRIPT = join(ROOT, 'scripts', 'netns.sh')
export const FIXTURES = join(import.meta.dirname, 'fixtures')

/** Runs scripts/netns.sh; throws with its stderr when it fails. */
function netnsScript(...args: string[]): string {
  try {
    return execFileSync(SCRIPT, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err) {
    const e = err as { stderr?: string; message: string }
    throw new Error(`netns.sh ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`)
  }
}

/**
 * Fails (never skips) with a clear reason when network namespaces cannot be made: a skipped
 * multi-host test would hide that it never ran.
 */
export function requireNamespaces(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the multi-host test needs root to create network namespaces (running as uid ${process.getuid?.()})`,
    )
  }
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'pipe' })
  } catch (err) {
    throw new Error(`'ip netns' is unavailable (iproute2 needed): ${(err as Error).message}`)
  }
}

/** Namespaces <prefix>-0..n-1 on one bridge; host i is at <subnet>.<i+1>. */
export class Namespaces {
  private isUp = false

  constructor(
    readonly prefix: string,
    readonly n: number,
    readonly subnet = '10.77.0',
  ) {}

  name(i: number): string {
    return `${this.prefix}-${i}`
  }

  address(i: number): string {
    return `${this.subnet}.${i + 1}`
  }

  up(): void {
    this.isUp = true
    // An exit that skips afterAll (a crash, process.exit) still removes the namespaces.
    process.once('exit', this.onExit)
    netnsScript('up', this.prefix, String(this.n), this.subnet)
  }

  /** Host i's link down at the bridge (i sees no carrier); `silent`: i's own link stays up. */
  cut(i: number, how: 'down' | 'silent' = 'down'): void {
    netnsScript('cut', this.prefix, String(i), ...(how === 'silent' ? ['silent'] : []))
  }

  restore(i: number): void {
    netnsScript('restore', this.prefix, String(i))
  }

  /** Kills whatever runs inside and deletes every namespace of this prefix; idempotent. */
  down(): void {
    process.off('exit', this.onExit)
    if (!this.isUp) return
    netnsScript('down', this.prefix)
    this.isUp = false
  }

  /** The namespaces of this prefix that exist now. */
  remaining(): string[] {
    return netnsScript('list', this.prefix).split('\n').filter(Boolean)
  }

  private readonly onExit = (): void => {
    try {
      execFileSync(SCRIPT, ['down', this.prefix], { stdio: 'ignore' })
    } catch {
      // Exiting anyway; the next run's `up` collects namespaces of dead runs.
    }
  }
}

export interface HostEvent {
  event: string
  t?: number
  [field: string]: unknown
}

/**
 * A node process inside a namespace (`ip netns exec <ns> node <script>`), speaking JSON lines:
 * events on its stdout, commands on its stdin. Its stdin closing tells it to leave.
 */
export class Host {
  readonly events: HostEvent[] = []
  private stderrText = ''
  private readonly child: ChildProcess
  private readonly waiters = new Set<() => void>()
  readonly exited: Promise<number | null>

  constructor(
    readonly label: string,
    namespace: string,
    script: string,
    args: string[],
  ) {
    this.child = spawn('ip', ['netns', 'exec', namespace, process.execPath, script, ...args], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let buffered = ''
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk
      for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
        const line = buffered.slice(0, i)
        buffered = buffered.slice(i + 1)
        try {
          this.events.push(JSON.parse(line) as HostEvent)
        } catch {
          this.stderrText += `[stdout, not JSON] ${line}\n`
        }
      }
      for (const wake of [...this.waiters]) wake()
    })
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderrText += chunk
    })
    // EPIPE when the child died first: its exit is what gets reported.
    this.child.stdin?.on('error', () => {})
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code) => {
        resolve(code)
        for (const wake of [...this.waiters]) wake()
      })
    })
  }

  get stderr(): string {
    return this.stderrText
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  last(event: string): HostEvent | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) {
      if (this.events[i]?.event === event) return this.events[i]
    }
    return undefined
  }

  count(event: string): number {
    return this.events.filter((e) => e.event === event).length
  }

  /** The first event (from `from` on) that matches; fails on timeout, child exit or 'error'. */
  waitFor(test: (e: HostEvent) => boolean, what: string, ms: number, from = 0): Promise<HostEvent> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.events.slice(from).find(test)
        const failed = this.events.slice(from).find((e) => e.event === 'error')
        if (found !== undefined) finish(() => resolve(found))
        else if (failed !== undefined)
          finish(() => reject(this.failure(`${what}: ${failed.message}`)))
        else if (!this.running) finish(() => reject(this.failure(`${what}: exited first`)))
      }
      const timer = setTimeout(
        () => finish(() => reject(this.failure(`${what}: timed out after ${ms} ms`))),
        ms,
      )
      const finish = (settle: () => void): void => {
        clearTimeout(timer)
        this.waiters.delete(check)
        settle()
      }
      this.waiters.add(check)
      check()
    })
  }

  send(command: Record<string, unknown>): void {
    if (this.running) this.child.stdin?.write(`${JSON.stringify(command)}\n`)
  }

  /** Asks the process to close cleanly; kills it if it has not left within `ms`. */
  async stop(ms = 5000): Promise<void> {
    if (!this.running) return
    this.send({ cmd: 'close' })
    this.child.stdin?.end()
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms)
    await this.exited
    clearTimeout(timer)
  }

  private failure(message: string): Error {
    const tail = this.stderrText.trim().split('\n').slice(-30).join('\n')
    return new Error(`${this.label}: ${message}${tail ? `\n--- stderr ---\n${tail}` : ''}`)
  }
}
