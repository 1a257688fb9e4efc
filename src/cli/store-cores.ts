import b4a from 'b4a'
import Corestore, { type Hypercore } from 'corestore'
import {
  decodeRecord,
  entryOf,
  openCorestoreRecords,
  RECORDS_CORE_NAME,
  RECORDS_NAMESPACE,
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
 * `readOnly` opens without the lock and writes nothing, so it also works beside a running
 * command (it sees the data as of the moment it opened).
 */
export async function openStore(
  storage: string,
  opts: { readOnly?: boolean } = {},
): Promise<Corestore> {
  const store = new Corestore(storage, opts.readOnly === true ? { readOnly: true } : {})
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

/** The internals of Corestore this file reads to find the records core without creating it. */
interface AliasStorage {
  getAlias(alias: { name: string; namespace: Buffer }): Promise<Buffer | null>
}

/**
 * The discovery key of the networker's private records core, or null when the store has
 * none. Looked up by its alias: opening it by name (as the library does) would create it,
 * and `status` must not write.
 */
export async function recordsCoreKey(store: Corestore): Promise<string | null> {
  const session = store.namespace(RECORDS_NAMESPACE) as Corestore & { ns: Buffer }
  try {
    const storage = (store as unknown as { storage: AliasStorage }).storage
    const dk = await storage.getAlias({ name: RECORDS_CORE_NAME, namespace: session.ns })
    return dk === null ? null : b4a.toString(dk, 'hex')
  } finally {
    await session.close().catch(() => {})
  }
}

/** What Corestore's getAuth returns beyond its declared key and discovery key. */
interface StoredAuth {
  key: Buffer
  keyPair?: { secretKey?: Buffer | null } | null
}

/** Every core the store holds, in the store's order, with what it has of each. */
export async function listCores(store: Corestore): Promise<StoredCore[]> {
  const cores: StoredCore[] = []
  // The networker's remembered topics live in a private core: never list it (seed would
  // announce it), and never open it actively (that would offer it to peers). A writable store
  // asks by name, which settles the key even while a persisting networker is creating that
  // core; a read-only one (status) looks for it without creating it.
  const records = (store as unknown as { readOnly: boolean }).readOnly
    ? await recordsCoreKey(store)
    : b4a.toString(await recordsDiscoveryKey(store), 'hex')
  for await (const discoveryKey of store.list()) {
    if (b4a.toString(discoveryKey, 'hex') === records) continue
    const auth = (await store.getAuth(discoveryKey)) as StoredAuth | null
    if (auth === null) continue
    const core = store.get({ key: auth.key })
    await core.ready()
    cores.push({
      key: b4a.toString(auth.key, 'hex'),
      discoveryKey: b4a.toString(discoveryKey, 'hex'),
      // Not core.writable: a read-only store (status) opens every core read-only.
      writable: core.writable || (auth.keyPair?.secretKey ?? null) !== null,
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
  /** The core's key when the store holds a core with this discovery key (else null). */
  key: string | null
  announce: boolean
  lookup: boolean
}

/**
 * The remembered topics, read without starting a networker (and, with no records core yet,
 * without creating one); damaged records are left out.
 */
export async function rememberedTopics(store: Corestore): Promise<RememberedTopic[]> {
  if ((await recordsCoreKey(store)) === null) return []
  const opened = await openCorestoreRecords(store)
  const topics: RememberedTopic[] = []
  try {
    for await (const item of opened.store.iterate()) {
      const { key, value } = entryOf(item)
      const decoded = decodeRecord(key, value)
      if (!decoded.ok) continue
      const auth = await store.getAuth(b4a.from(decoded.topic, 'hex'))
      topics.push({
        discoveryKey: decoded.topic,
        key: auth === null ? null : b4a.toString(auth.key, 'hex'),
        ...decoded.config,
      })
    }
  } finally {
    await opened.close()
  }
  return topics
}

/**
 * Deletes the records of the given topics (discovery keys in hex). Goes to the record store
 * directly: no networker, so no network and no restore of the very topics being forgotten.
 */
export async function forgetTopics(store: Corestore, discoveryKeys: string[]): Promise<void> {
  if (discoveryKeys.length === 0) return
  const opened = await openCorestoreRecords(store)
  try {
    for (const dk of discoveryKeys) await opened.store.del(dk)
  } finally {
    await opened.close()
  }
}

/** A short human name for a topic: its core key when known, else its discovery key. */
export function describeTopic(t: RememberedTopic): string {
  return t.key === null ? `topic ${t.discoveryKey} (no core held)` : t.key
}

interface CoreStorageInternals {
  state: { storage: { store: { deleteCore(ptr: unknown): Promise<void> }; core: unknown } }
}

/**
 * Removes a core this command created from the store for good, so a failed or interrupted
 * put (or a get that fetched nothing) leaves no empty or partial core for status to list
 * and seed to announce. Hypercore 11.37's own purge() throws (it calls a method that no
 * longer exists), so this does what Hypercore's audit does with a corrupt core: close every
 * session, then delete the core's records from the storage.
 */
export async function discardCore(core: Hypercore): Promise<void> {
  const { storage } = (core as unknown as CoreStorageInternals).state
  await core.close()
  await storage.store.deleteCore(storage.core)
}
