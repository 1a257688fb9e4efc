import { open, rm } from 'node:fs/promises'
import { basename } from 'node:path'
import b4a from 'b4a'
import type { Hypercore } from 'corestore'
import crypto from 'hypercore-crypto'
import type { BootstrapNode } from '../bootstrap.js'
import { CliError } from '../cli-error.js'
import { bar, bytes, type Output, rate } from '../output.js'
import { type DirectOptions, openSession } from '../session.js'
import { onShutdown, workDone } from '../shutdown.js'
import { checkWritableStorage, storageState } from '../storage-dir.js'
import { discardCore, rememberedTopics } from '../store-cores.js'
import { recordWritten } from '../written-cores.js'
import { serve } from './seed.js'

/** Hypercore refuses blocks above this (its MAX_SUGGESTED_BLOCK_SIZE), after the whole read. */
export const MAX_BLOCK_SIZE = 15 * 1024 * 1024

interface Input {
  stream: AsyncIterable<Buffer>
  /** Known for a regular file; null for stdin or a pipe. */
  size: number | null
  close(): Promise<void>
}

/** Opens the source before anything else happens, so a wrong path costs nothing. */
async function openInput(source: string): Promise<Input> {
  if (source === '-') return { stream: process.stdin, size: null, close: async () => {} }
  let handle: Awaited<ReturnType<typeof open>>
  try {
    handle = await open(source, 'r')
  } catch (err) {
    throw new CliError(`cannot read ${source}: ${reason(err)}`)
  }
  const stat = await handle.stat()
  if (stat.isDirectory()) {
    await handle.close()
    throw new CliError(
      `${source} is a directory; put takes one file (for a directory: tar c ${source} | chainstore-networker put - …)`,
    )
  }
  if (stat.isFile() && stat.size === 0) {
    await handle.close()
    throw new CliError(`${source} is empty: a core needs at least one block`)
  }
  return {
    stream: handle.createReadStream(),
    size: stat.isFile() ? stat.size : null,
    close: () => handle.close().catch(() => {}),
  }
}

/** Appends a file (or stdin) to a new core as fixed-size blocks, prints its key, and seeds it. */
export async function putCommand(opts: {
  source: string
  storage: string
  blockSize: number
  bootstrap: BootstrapNode[] | null
  /** --lan, --tcp, --peer. */
  direct: DirectOptions
  out: Output
}): Promise<never> {
  // Inputs first, then the network, and only then the storage: a failure before the write
  // leaves nothing behind, and one during it removes what it wrote.
  checkWritableStorage(opts.storage)
  const input = await openInput(opts.source)
  const createdStorage = storageState(opts.storage) === 'missing'
  let session: Awaited<ReturnType<typeof openSession>>
  try {
    session = await openSession({
      storage: opts.storage,
      bootstrap: opts.bootstrap,
      direct: opts.direct,
      out: opts.out,
      persist: true,
    })
  } catch (err) {
    await input.close()
    // A --tcp port in use fails after the storage was opened: leave nothing behind.
    if (createdStorage) await rm(opts.storage, { recursive: true, force: true })
    throw err
  }
  const name = `put-${b4a.toString(crypto.randomBytes(8), 'hex')}`
  const core = session.store.get({ name })
  const progress = { blocks: 0, bytes: 0 }
  let discarded: Promise<void> | null = null
  const discard = (): Promise<void> => {
    discarded ??= (async () => {
      await input.close()
      await discardCore(core).catch(() => {})
      if (createdStorage) {
        await session.close()
        await rm(opts.storage, { recursive: true, force: true })
      }
    })()
    return discarded
  }
  const unregister = onShutdown(async (why) => {
    await discard()
    if (why === 'signal') {
      opts.out.result(
        { event: 'interrupted', blocks: progress.blocks, bytes: progress.bytes },
        `interrupted after ${progress.blocks} blocks (${bytes(progress.bytes)}): nothing kept`,
      )
    }
  })
  try {
    await core.ready()
    await write(core, input, opts.blockSize, opts.out, progress)
    if (core.length === 0)
      throw new CliError(`${opts.source} is empty: a core needs at least one block`)
  } catch (err) {
    unregister()
    await discard()
    await session.close()
    throw err instanceof CliError ? err : new CliError(`put failed: ${reason(err)}`)
  }
  unregister()
  workDone()
  const key = b4a.toString(core.key, 'hex')
  await recordWritten(opts.storage, {
    key,
    name,
    source: opts.source === '-' ? 'stdin' : basename(opts.source),
    blocks: core.length,
    bytes: core.byteLength,
  })
  opts.out.result(
    { event: 'put', key, blocks: core.length, bytes: core.byteLength },
    `${key}\nwrote ${core.length} blocks (${bytes(core.byteLength)}); seeding until Ctrl-C`,
  )
  return serve(session, opts.storage, [core], await rememberedTopics(session.store), opts.out)
}

/** Cuts the input into blocks and appends them, showing progress like get. */
async function write(
  core: Hypercore,
  input: Input,
  blockSize: number,
  out: Output,
  progress: { blocks: number; bytes: number },
): Promise<void> {
  const started = performance.now()
  let lastStep = -1
  let lastBytes = -1
  const show = (final: boolean): void => {
    // Human output off a terminal shows no progress: the key stays the first line, for scripts.
    if (!out.tty && !out.json) return
    // A JSON event each tenth of a file of known size, each 16 MiB of a stream; a bar redrawn
    // on every append on a terminal.
    const step =
      input.size === null
        ? Math.floor(progress.bytes / (16 * 1024 * 1024))
        : Math.floor((progress.bytes / input.size) * 10)
    if (!out.tty && !final && step === lastStep) return
    if (final && progress.bytes === lastBytes) return
    lastStep = step
    lastBytes = progress.bytes
    const secs = (performance.now() - started) / 1000
    const speed = progress.bytes > 0 && secs > 0 ? `  ${rate(progress.bytes, secs)}` : ''
    const size = input.size === null ? '' : `/${bytes(input.size)}`
    const head = input.size === null ? 'writing' : bar(progress.bytes / input.size)
    out.progress(
      { event: 'progress', blocks: progress.blocks, bytes: progress.bytes, of: input.size },
      `${head} ${progress.blocks} blocks  ${bytes(progress.bytes)}${size}${speed}`,
      true,
    )
  }
  let pending = b4a.alloc(0)
  const append = async (blocks: Buffer[]): Promise<void> => {
    await core.append(blocks)
    progress.blocks = core.length
    progress.bytes = core.byteLength
    show(false)
  }
  try {
    for await (const chunk of input.stream) {
      pending = pending.byteLength === 0 ? chunk : b4a.concat([pending, chunk])
      const blocks: Buffer[] = []
      while (pending.byteLength >= blockSize) {
        blocks.push(pending.subarray(0, blockSize))
        pending = pending.subarray(blockSize)
      }
      if (blocks.length > 0) await append(blocks)
    }
  } catch (err) {
    // Errors of the read itself carry the system call; Hypercore's pass on as they are.
    if ((err as NodeJS.ErrnoException).syscall !== undefined)
      throw new CliError(`cannot read input: ${reason(err)}`)
    throw err
  } finally {
    await input.close()
  }
  if (pending.byteLength > 0) await append([pending])
  show(true)
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException
  if (e.code === 'ENOENT') return 'no such file'
  if (e.code === 'EACCES') return 'permission denied'
  return e.message ?? String(err)
}
