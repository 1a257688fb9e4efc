import { bytes, type Output } from '../output.js'
import { requireStore } from '../storage-dir.js'
import {
  describeTopic,
  listCores,
  openStore,
  type RememberedTopic,
  rememberedTopics,
} from '../store-cores.js'
import { readWritten } from '../written-cores.js'

export const role = (t: RememberedTopic): string =>
  t.announce && t.lookup ? 'announce + lookup' : t.announce ? 'announce' : 'lookup'

/**
 * What a storage directory holds: every core, whether this store wrote it, how much of it is
 * here, and the topics it remembers. Only reads: the store is opened read-only (no lock, no
 * writes), so it also works beside a running put or seed.
 */
export async function statusCommand(opts: { storage: string; out: Output }): Promise<void> {
  requireStore(opts.storage)
  const written = new Map((await readWritten(opts.storage)).map((w) => [w.key, w]))
  const store = await openStore(opts.storage, { readOnly: true })
  try {
    const cores = (await listCores(store)).map((c) => ({
      ...c,
      blocks: c.length,
      bytes: c.byteLength,
      source: written.get(c.key)?.source ?? null,
    }))
    const line = (c: (typeof cores)[number]): string => {
      const kind = c.writable ? 'written here' : 'replica     '
      const have =
        c.contiguousLength === c.length
          ? `${c.length} blocks`
          : `${c.contiguousLength}/${c.length} blocks`
      const from = c.source === null ? '' : `  (put ${c.source})`
      return `    ${c.key}  ${kind}  ${have}  ${bytes(c.byteLength)}${from}`
    }
    const topics = await rememberedTopics(store)
    opts.out.result(
      { event: 'status', storage: opts.storage, cores, topics },
      [
        `storage ${opts.storage}`,
        cores.length === 0 ? '  no cores' : `  ${cores.length} core(s):`,
        ...cores.map(line),
        topics.length === 0
          ? '  no remembered topics'
          : `  ${topics.length} remembered topic(s), restored by seed and put:`,
        ...topics.map((t) => `    ${describeTopic(t)}  ${role(t)}`),
      ].join('\n'),
    )
  } finally {
    await store.close()
  }
}
