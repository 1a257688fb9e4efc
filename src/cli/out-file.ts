import { constants, existsSync, statSync } from 'node:fs'
import { access, type FileHandle, open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { CliError } from './cli-error.js'

/** Where `get` writes the content: standard output, or a file. */
export type OutTarget =
  | { kind: 'stdout' }
  /** `atomic`: a regular file, written beside under another name and renamed when complete. */
  | { kind: 'file'; path: string; atomic: boolean }

/**
 * Checks an --out path before anything is downloaded: its directory must exist and be
 * writable, and the path must not be a directory. A device or pipe (`/dev/null`, a FIFO) is
 * written directly; a regular file is replaced only once the whole content is verified.
 */
export async function checkOutPath(out: string | null): Promise<OutTarget> {
  if (out === null || out === '-') return { kind: 'stdout' }
  if (existsSync(out)) {
    const stat = statSync(out)
    if (stat.isDirectory()) throw new CliError(`--out ${out} is a directory; give a file path`)
    if (!stat.isFile()) return { kind: 'file', path: out, atomic: false }
  }
  const dir = dirname(out)
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new CliError(`--out ${out}: directory ${dir} does not exist`)
  try {
    await access(dir, constants.W_OK)
  } catch {
    throw new CliError(`--out ${out}: cannot write in ${dir} (permission denied)`)
  }
  return { kind: 'file', path: out, atomic: true }
}

/** The content being written: appended in order, then committed (or abandoned). */
export interface ContentSink {
  write(block: Uint8Array): Promise<void>
  /** The content is complete: a file takes its final name. */
  commit(): Promise<void>
  /** Closes the file (after commit, or to stop following with --live). */
  end(): Promise<void>
  /** Gives up: an uncommitted partial file is removed. Safe to call at any time, repeatedly. */
  abort(): Promise<void>
}

export async function openSink(target: OutTarget): Promise<ContentSink> {
  if (target.kind === 'stdout') return stdoutSink()
  const partial = target.atomic
    ? join(dirname(target.path), `.${basename(target.path)}.partial-${process.pid}`)
    : target.path
  let handle: FileHandle
  try {
    handle = await open(partial, target.atomic ? 'wx' : 'w')
  } catch (err) {
    throw new CliError(`cannot write ${target.path}: ${messageOf(err)}`)
  }
  let committed = !target.atomic
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await handle.close().catch(() => {})
  }
  return {
    async write(block) {
      try {
        await handle.write(block)
      } catch (err) {
        throw new CliError(`cannot write ${target.path}: ${messageOf(err)}`)
      }
    },
    async commit() {
      if (committed) return
      await handle.sync()
      // The open handle keeps writing to the same file under its new name (--live).
      await rename(partial, target.path)
      committed = true
    },
    end: close,
    async abort() {
      await close()
      if (!committed) await rm(partial, { force: true })
    },
  }
}

function stdoutSink(): ContentSink {
  const out = process.stdout
  return {
    write(block) {
      if (out.write(block)) return Promise.resolve()
      // A reader that went away never drains; the CLI's handler for a closed output ends the
      // process then (exit 141), so this wait does not outlive it.
      return new Promise((resolve) => out.once('drain', () => resolve()))
    },
    commit: async () => {},
    end: async () => {},
    abort: async () => {},
  }
}

function messageOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException
  if (e.code === 'ENOSPC') return 'no space left on the device'
  return e.message ?? String(err)
}
