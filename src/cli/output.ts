/**
 * How the CLI talks: human lines (a live progress bar only on a TTY), one JSON event per
 * line with --json, or nothing but errors with --quiet.
 */
export interface OutputOptions {
  json: boolean
  quiet: boolean
}

export class Output {
  readonly tty: boolean
  readonly json: boolean
  /** The live region at the bottom of a terminal: a panel (the peer table) above a progress bar. */
  private panelLines: string[] = []
  private bar: string | null = null
  /** Lines of the live region on screen now; the cursor is at the end of the last one. */
  private drawn = 0

  constructor(
    private readonly opts: OutputOptions,
    private readonly stream: NodeJS.WriteStream = process.stdout,
  ) {
    this.tty = stream.isTTY === true && !opts.json
    this.json = opts.json
  }

  /** Whether human output shows at all (not --json, not --quiet). */
  get human(): boolean {
    return !this.opts.json && !this.opts.quiet
  }

  /** One happening: `text` for people, `event` for --json. */
  event(event: Record<string, unknown>, text: string): void {
    if (this.opts.json) {
      this.write(`${JSON.stringify(event)}\n`)
      return
    }
    if (this.opts.quiet) return
    this.erase()
    this.write(`${text}\n`)
    this.draw()
  }

  /** A progress line: redrawn in place on a TTY, otherwise printed when asked to. */
  progress(event: Record<string, unknown>, text: string, plainLine: boolean): void {
    if (this.opts.json) {
      this.write(`${JSON.stringify(event)}\n`)
      return
    }
    if (this.opts.quiet) return
    if (this.tty) {
      this.bar = text
      this.redraw()
    } else if (plainLine) {
      this.write(`${text}\n`)
    }
  }

  /**
   * A block of lines redrawn in place at the bottom of a terminal (above a progress bar),
   * under everything printed meanwhile; an empty block takes it away. Nothing off a TTY.
   */
  panel(lines: string[]): void {
    if (!this.tty || this.opts.quiet) return
    this.panelLines = lines
    this.redraw()
  }

  /** The final result line; printed even with --quiet. The live region goes first. */
  result(event: Record<string, unknown>, text: string): void {
    if (this.opts.json) this.write(`${JSON.stringify(event)}\n`)
    else {
      this.erase()
      this.panelLines = []
      this.bar = null
      this.write(`${text}\n`)
    }
  }

  private redraw(): void {
    this.erase()
    this.draw()
  }

  /** Clears the live region and leaves the cursor where its first line was. */
  private erase(): void {
    if (this.drawn === 0) return
    this.write(`\r\x1b[2K${'\x1b[1A\x1b[2K'.repeat(this.drawn - 1)}`)
    this.drawn = 0
  }

  private draw(): void {
    if (!this.tty) return
    const lines = this.bar === null ? this.panelLines : [...this.panelLines, this.bar]
    if (lines.length === 0) return
    // A line wider than the terminal would wrap, and erase() would miss its second half.
    const width = Math.max(20, (this.stream.columns ?? 100) - 1)
    this.write(lines.map((l) => (l.length > width ? l.slice(0, width) : l)).join('\n'))
    this.drawn = lines.length
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
