import b4a from 'b4a'
import Corestore from 'corestore'
import {
  decodeRecord,
  entryOf,
  openCorestoreRecords,
  recordsDiscoveryKey,
} from '../io/record-store.js'
import { CliError } from './cli-error.js'

/** One core a storage directory holds. */
export interface StoredCore {
  key: string
  discoveryKey: string
  /** The store holds the core's secret key: it wrote this core. */
  writable: boolean
  length: number
  byteLength: number
  /** Blocks held locally from the start without a gap. */
  contiguousLength: number
}

/**
 * Opens a Corestore on a directory; a directory another process holds open (a running put,
 * seed or get) gets a one-line error instead of the storage engine's lock message.
 */
export async function openStore(storage: string): Promise<Corestore> {
  const store = new Corestore(storage)
  try {
    await store.ready()
  } catch (err) {
    await store.close().catch(() => {})
    const message = err instanceof Error ? err.message : String(err)
    if (/lock/i.test(message)) {
      throw new CliError(
        `storage ${storage} is in use by another process (a running put, seed or get?)`,
      )
    }
    throw new CliError(`cannot open storage ${storage}: ${message}`)
  }
  return store
}

/** Every core the store holds, in the store's order, with what it has of each. */
export async function listCores(store: Corestore): Promise<StoredCore[]> {
  const cores: StoredCore[] = []
  // The networker's remembered topics live in a private core: never list it (seed would
  // announce it), and never open it actively (that would offer it to peers).
  const records = b4a.toString(await recordsDiscoveryKey(store), 'hex')
  for await (const discoveryKey of store.list()) {
    if (b4a.toString(discoveryKey, 'hex') === records) continue
    const auth = await store.getAuth(discoveryKey)
    if (auth === null) continue
    const core = store.get({ key: auth.key })
    await core.ready()
    cores.push({
      key: b4a.toString(auth.key, 'hex'),
      discoveryKey: b4a.toString(discoveryKey, 'hex'),
      writable: core.writable,
      length: core.length,
      byteLength: core.byteLength,
      contiguousLength: core.contiguousLength,
    })
    await core.close()
  }
  return cores
}

/** A topic configuration the networker remembers in this storage. */
export interface RememberedTopic {
  discoveryKey: string
  announce: boolean
  lookup: boolean
}

/** The remembered topics, read without starting a networker; damaged records are left out. */
export async function rememberedTopics(store: Corestore): Promise<RememberedTopic[]> {
  const opened = await openCorestoreRecords(store)
  const topics: RememberedTopic[] = []
  try {
    for await (const item of opened.store.iterate()) {
      const { key, value } = entryOf(item)
      const decoded = decodeRecord(key, value)
      if (decoded.ok) topics.push({ discoveryKey: decoded.topic, ...decoded.config })
    }
  } finally {
    await opened.close()
  }
  return topics
}
