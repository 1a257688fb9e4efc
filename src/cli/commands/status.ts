import { existsSync } from 'node:fs'
import { CliError } from '../cli-error.js'
import { bytes, type Output } from '../output.js'
import { listCores, openStore, rememberedTopics } from '../store-cores.js'
import { readWritten } from '../written-cores.js'

/** What a storage directory holds: every core, whether this store wrote it, how much of it is here. */
export async function statusCommand(opts: { storage: string; out: Output }): Promise<void> {
  if (!existsSync(opts.storage))
    throw new CliError(`storage directory ${opts.storage} does not exist`)
  const written = new Map((await readWritten(opts.storage)).map((w) => [w.key, w]))
  const store = await openStore(opts.storage)
  try {
    const cores = (await listCores(store)).map((c) => ({
      ...c,
      blocks: c.length,
      bytes: c.byteLength,
      source: written.get(c.key)?.source ?? null,
    }))
    const line = (c: (typeof cores)[number]): string => {
      const role = c.writable ? 'written here' : 'replica     '
      const have =
        c.contiguousLength === c.length
          ? `${c.length} blocks`
          : `${c.contiguousLength}/${c.length} blocks`
      const from = c.source === null ? '' : `  (put ${c.source})`
      return `    ${c.key}  ${role}  ${have}  ${bytes(c.byteLength)}${from}`
    }
    const topics = await rememberedTopics(store)
    const role = (t: (typeof topics)[number]): string =>
      t.announce && t.lookup ? 'announce + lookup' : t.announce ? 'announce' : 'lookup'
    opts.out.result(
      { event: 'status', storage: opts.storage, cores, topics, topicsRemembered: true },
      [
        `storage ${opts.storage}`,
        cores.length === 0 ? '  no cores' : `  ${cores.length} core(s):`,
        ...cores.map(line),
        topics.length === 0
          ? '  no remembered topics'
          : `  ${topics.length} remembered topic(s), restored on start:`,
        ...topics.map((t) => `    ${t.discoveryKey}  ${role(t)}`),
      ].join('\n'),
    )
  } finally {
    await store.close()
  }
}
