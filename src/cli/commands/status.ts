import { existsSync } from 'node:fs'
import b4a from 'b4a'
import Corestore from 'corestore'
import { CliError } from '../cli-error.js'
import { bytes, type Output } from '../output.js'
import { readWritten } from '../written-cores.js'

/** What a storage directory holds. */
export async function statusCommand(opts: { storage: string; out: Output }): Promise<void> {
  if (!existsSync(opts.storage))
    throw new CliError(`storage directory ${opts.storage} does not exist`)
  const written = await readWritten(opts.storage)
  const store = new Corestore(opts.storage)
  try {
    await store.ready()
    const cores = []
    for (const w of written) {
      const core = store.get({ key: b4a.from(w.key, 'hex') })
      await core.ready()
      cores.push({ ...w, blocks: core.length, bytes: core.byteLength })
      await core.close()
    }
    opts.out.result(
      { event: 'status', storage: opts.storage, cores, topics: null },
      [
        `storage ${opts.storage}`,
        cores.length === 0 ? '  no cores written by put' : '  cores written by put:',
        ...cores.map((c) => `    ${c.key}  ${c.blocks} blocks  ${bytes(c.bytes)}  (${c.source})`),
        '  topics: configurations are not remembered yet (that comes with remembered configuration)',
      ].join('\n'),
    )
  } finally {
    await store.close()
  }
}
