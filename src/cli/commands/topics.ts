import { CliError } from '../cli-error.js'
import type { Output } from '../output.js'
import { requireStore } from '../storage-dir.js'
import { describeTopic, forgetTopics, openStore, rememberedTopics } from '../store-cores.js'
import { role } from './status.js'

/** What each kind of record makes the next seed or put do. */
const effect = (announce: boolean, lookup: boolean): string =>
  [announce ? 'served' : '', lookup ? 'followed' : ''].filter((s) => s !== '').join(' and ')

/** The topics a storage remembers, with what restoring each does. Only reads. */
export async function topicsCommand(opts: { storage: string; out: Output }): Promise<void> {
  requireStore(opts.storage)
  const store = await openStore(opts.storage, { readOnly: true })
  try {
    const topics = await rememberedTopics(store)
    opts.out.result(
      { event: 'topics', storage: opts.storage, topics },
      topics.length === 0
        ? `${opts.storage} remembers no topics`
        : [
            `${opts.storage} remembers ${topics.length} topic(s); seed and put restore them:`,
            ...topics.map(
              (t) => `  ${describeTopic(t)}  ${role(t)} (${effect(t.announce, t.lookup)} by seed)`,
            ),
            `forget one: chainstore-networker forget <key> --storage ${opts.storage}`,
          ].join('\n'),
    )
  } finally {
    await store.close()
  }
}

/**
 * Stops remembering topics: each given key is a core key or a discovery key as `topics`
 * lists it. All are checked before any record is deleted. The cores' data stays.
 */
export async function forgetCommand(opts: {
  storage: string
  keys: string[]
  all: boolean
  out: Output
}): Promise<void> {
  for (const k of opts.keys) {
    if (!/^[0-9a-fA-F]{64}$/.test(k))
      throw new CliError(`a key must be 64 hex characters, got '${k}'; see forget --help`)
  }
  if (opts.all === opts.keys.length > 0)
    throw new CliError('forget takes one or more keys, or --all; see forget --help')
  requireStore(opts.storage)
  // Writable, so a running seed or put (which would record its topics again) is refused.
  const store = await openStore(opts.storage)
  try {
    const topics = await rememberedTopics(store)
    const chosen = opts.all
      ? topics
      : opts.keys.map((raw) => {
          const k = raw.toLowerCase()
          const found = topics.find((t) => t.key === k || t.discoveryKey === k)
          if (found === undefined) {
            throw new CliError(
              `${opts.storage} remembers no topic for ${k} (see topics --storage ${opts.storage})`,
            )
          }
          return found
        })
    await forgetTopics(
      store,
      chosen.map((t) => t.discoveryKey),
    )
    opts.out.result(
      {
        event: 'forgot',
        storage: opts.storage,
        topics: chosen,
      },
      chosen.length === 0
        ? `${opts.storage} remembered no topics`
        : chosen
            .map((t) => `forgot ${describeTopic(t)} (was: ${role(t)}); its data stays`)
            .join('\n'),
    )
  } finally {
    await store.close()
  }
}
