/**
 * How the CLI talks: human lines (a live progress bar only on a TTY), one JSON event per
 * line with --json, or nothing but errors with --quiet.
 */
export interface OutputOptions {
  json: boolean
  quiet: boolean
}

export class Output {
  private barShown = false
  readonly tty: boolean
  readonly json: boolean

  constructor(
    private readonly opts: OutputOptions,
    private readonly stream: NodeJS.WriteStream = process.stdout,
  ) {
    this.tty = stream.isTTY === true && !opts.json
    this.json = opts.json
  }

  /** One happening: `text` for people, `event` for --json. */
  event(event: Record<string, unknown>, text: string): void {
    if (this.opts.json) {
      this.write(`${JSON.stringify(event)}\n`)
      return
    }
    if (this.opts.quiet) return
    this.clearBar()
    this.write(`${text}\n`)
  }

  /** A progress line: redrawn in place on a TTY, otherwise printed when asked to. */
  progress(event: Record<string, unknown>, text: string, plainLine: boolean): void {
    if (this.opts.json) {
      this.write(`${JSON.stringify(event)}\n`)
      return
    }
    if (this.opts.quiet) return
    if (this.tty) {
      this.write(`\r\x1b[2K${text}`)
      this.barShown = true
    } else if (plainLine) {
      this.write(`${text}\n`)
    }
  }

  /** The final result line; printed even with --quiet. */
  result(event: Record<string, unknown>, text: string): void {
    if (this.opts.json) this.write(`${JSON.stringify(event)}\n`)
    else {
      this.clearBar()
      this.write(`${text}\n`)
    }
  }

  private clearBar(): void {
    if (!this.barShown) return
    this.write('\r\x1b[2K')
    this.barShown = false
  }

  private write(s: string): void {
    this.stream.write(s)
  }
}

export function bar(fraction: number, width = 24): string {
  const f = Math.max(0, Math.min(1, fraction))
  const full = Math.round(f * width)
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${(f * 100).toFixed(0).padStart(3)}%`
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / (1024 * 1024)).toFixed(2)} MiB`
}

/** A transfer rate; only meaningful for bytes that actually moved. */
export function rate(moved: number, seconds: number): string {
  return `${bytes(Math.round(moved / Math.max(seconds, 0.001)))}/s`
}
