import { createReadStream } from 'node:fs'
import { basename } from 'node:path'
import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import type { BootstrapNode } from '../bootstrap.js'
import { CliError } from '../cli-error.js'
import { bytes, type Output } from '../output.js'
import { openSession } from '../session.js'
import { recordWritten } from '../written-cores.js'
import { serve } from './seed.js'

/** Appends a file (or stdin) to a new core as fixed-size blocks, prints its key, and seeds it. */
export async function putCommand(opts: {
  source: string
  storage: string
  blockSize: number
  bootstrap: BootstrapNode[] | null
  out: Output
}): Promise<never> {
  const input = opts.source === '-' ? process.stdin : createReadStream(opts.source)
  const opened = new Promise<void>((resolve, reject) => {
    if (opts.source === '-') resolve()
    input.once('open', () => resolve())
    input.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new CliError(
          `cannot read ${opts.source}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`,
        ),
      ),
    )
  })
  await opened
  const session = await openSession({
    storage: opts.storage,
    create: true,
    bootstrap: opts.bootstrap,
    out: opts.out,
  })
  const name = `put-${b4a.toString(crypto.randomBytes(8), 'hex')}`
  const core = session.store.get({ name })
  await core.ready()
  let pending = b4a.alloc(0)
  for await (const chunk of input as AsyncIterable<Buffer>) {
    pending = b4a.concat([pending, chunk])
    const blocks: Buffer[] = []
    while (pending.byteLength >= opts.blockSize) {
      blocks.push(pending.subarray(0, opts.blockSize))
      pending = pending.subarray(opts.blockSize)
    }
    if (blocks.length > 0) await core.append(blocks)
  }
  if (pending.byteLength > 0) await core.append(pending)
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
  return serve(session, [core], opts.out)
}
