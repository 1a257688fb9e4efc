import b4a from 'b4a'
import Hyperbee from 'hyperbee'
import { ErrorCode, NetworkerError } from '../core/errors.js'
import { describe, type KeyHex } from '../core/keys.js'
import { noop } from './util.js'

/** A value as a record store may hand it back: the bytes or the text of one record. */
export type RecordValue = Uint8Array | string

/**
 * Where the networker keeps its remembered configurations (the `persist` option): one record
 * per topic, keyed by the topic's discovery key as 64 lower-case hex characters. Any key-value
 * store fits (Level, a SQLite table, a file per key): `put` must be durable by the time its
 * promise resolves — the networker resolves `configure` only after it — and a single `put` or
 * `del` must be atomic (all or nothing). Give the networker a store (or sublevel) of its own:
 * every key `iterate()` yields is read as a record, and a key that is not one is reported.
 */
export interface RecordStore {
  /** Not needed by this release; accepted so a store with the usual four methods fits as is. */
  get?(key: string): Promise<RecordValue | null | undefined>
  put(key: string, value: RecordValue): Promise<void>
  del(key: string): Promise<void>
  /** Every record, as `[key, value]` pairs (Level's `db.iterator()` is one). */
  iterate(): AsyncIterable<[string, RecordValue]>
}

/** What a remembered configuration says about one topic. */
export interface TopicConfig {
  announce: boolean
  lookup: boolean
}

/** The record format this release writes. Readers accept exactly the versions they know. */
export const RECORD_VERSION = 1

/**
 * Version 1, as UTF-8 JSON: `{"v":1,"announce":true,"lookup":false}`. A record exists only
 * for a topic that is announced or looked up; leaving a topic deletes its record. Fields
 * other than these are ignored, so version 1 may gain optional fields without a new version.
 */
export function encodeRecord(config: TopicConfig): string {
  return JSON.stringify({ v: RECORD_VERSION, announce: config.announce, lookup: config.lookup })
}

export type DecodedRecord =
  | { ok: true; topic: KeyHex; config: TopicConfig }
  | { ok: false; key: string; error: NetworkerError }

const TOPIC_KEY = /^[0-9a-f]{64}$/
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Reads one record; whatever is wrong with it comes back as a coded error, never a throw. */
export function decodeRecord(rawKey: unknown, rawValue: unknown): DecodedRecord {
  const key = typeof rawKey === 'string' ? rawKey : textOf(rawKey)
  if (key === null || !TOPIC_KEY.test(key)) {
    const shown = key === null ? describe(rawKey) : JSON.stringify(key.slice(0, 80))
    return damaged(key ?? '', `record key ${shown} is not a discovery key in lower-case hex`)
  }
  const text = typeof rawValue === 'string' ? rawValue : textOf(rawValue)
  if (text === null) return damaged(key, `record ${key} is not UTF-8 text`)
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return damaged(key, `record ${key} is not JSON`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return damaged(key, `record ${key} is not a JSON object`)
  }
  const { v, announce, lookup } = parsed as Record<string, unknown>
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    return damaged(key, `record ${key} has no valid format version`)
  }
  if (v !== RECORD_VERSION) {
    return {
      ok: false,
      key,
      error: new NetworkerError(
        ErrorCode.RECORD_VERSION_UNKNOWN,
        `record ${key} has format version ${v}; this release reads version ${RECORD_VERSION}`,
      ),
    }
  }
  if (typeof announce !== 'boolean' || typeof lookup !== 'boolean') {
    return damaged(key, `record ${key} lacks boolean announce and lookup`)
  }
  if (!announce && !lookup) {
    return damaged(key, `record ${key} neither announces nor looks up (a left topic has no record)`)
  }
  return { ok: true, topic: key, config: { announce, lookup } }
}

function damaged(key: string, message: string): DecodedRecord {
  return { ok: false, key, error: new NetworkerError(ErrorCode.RECORD_DAMAGED, message) }
}

function textOf(value: unknown): string | null {
  if (!(value instanceof Uint8Array)) return null
  try {
    return utf8.decode(value)
  } catch {
    return null
  }
}

/** Splits one item of `iterate()` into key and value: `[key, value]` or `{ key, value }`. */
export function entryOf(item: unknown): { key: unknown; value: unknown } {
  if (Array.isArray(item)) return { key: item[0], value: item[1] }
  if (typeof item === 'object' && item !== null) {
    const { key, value } = item as { key?: unknown; value?: unknown }
    return { key, value }
  }
  return { key: undefined, value: undefined }
}

export function isRecordStore(value: unknown): value is RecordStore {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return (
    typeof v.put === 'function' &&
    typeof v.del === 'function' &&
    typeof v.iterate === 'function' &&
    (v.get === undefined || typeof v.get === 'function')
  )
}

/** A record store the networker opened itself, and how to close it again. */
export interface OpenedRecords {
  store: RecordStore
  close(): Promise<void>
}

/** The Corestore calls the default record store needs. */
export interface NamespacingStore {
  namespace(name: string): {
    get(opts: Record<string, unknown>): unknown
    close(): Promise<void>
  }
}

export function isNamespacingStore(value: unknown): value is NamespacingStore {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { namespace?: unknown }).namespace === 'function'
  )
}

/** The namespace and name of the core the default record store lives in. */
export const RECORDS_NAMESPACE = 'chainstore-networker/remembered-config'
export const RECORDS_CORE_NAME = 'topics'

/**
 * The default record store: a Hyperbee over a core of the networker's own Corestore, so one
 * storage directory holds the data and the networking state together.
 *
 * The core is private. Its key derives from the store's secret primary key (peers cannot
 * compute it), it is never announced, and it is opened *inactive* (`active: false`) with a
 * Hyperbee that makes no sessions of its own (`sessions: false`) and no extension: Corestore
 * offers every core with an active session to every replication stream (its `ondownloading`
 * hook attaches the core to all streams, which sends the core's discovery key in a channel
 * open); an inactive core is only attached when a remote asks for its discovery key, and then
 * the remote must also prove it knows the key (the replication capability), or the stream is
 * closed with INVALID_CAPABILITY before any block moves.
 */
export async function openCorestoreRecords(store: NamespacingStore): Promise<OpenedRecords> {
  const session = store.namespace(RECORDS_NAMESPACE)
  let bee: Hyperbee<string, Buffer> | null = null
  try {
    const core = session.get({ name: RECORDS_CORE_NAME, active: false })
    bee = new Hyperbee<string, Buffer>(core, {
      keyEncoding: 'utf-8',
      valueEncoding: 'binary',
      sessions: false,
      extension: false,
    })
    await bee.ready()
  } catch (err) {
    await bee?.close().catch(noop)
    await session.close().catch(noop)
    throw err
  }
  const opened = bee
  return {
    store: {
      put: (key, value) => opened.put(key, b4a.from(value)),
      del: (key) => opened.del(key),
      async *iterate() {
        for await (const { key, value } of opened.createReadStream()) yield [key, value]
      },
    },
    async close() {
      await opened.close().catch(noop)
      await session.close().catch(noop)
    },
  }
}

/**
 * The discovery key of the default record store's core in `store` (opening it creates it).
 * Tools that list or seed every core of a storage directory use it to leave this one out:
 * it must never be announced.
 */
export async function recordsDiscoveryKey(store: NamespacingStore): Promise<Buffer> {
  const session = store.namespace(RECORDS_NAMESPACE)
  try {
    const core = session.get({ name: RECORDS_CORE_NAME, active: false }) as {
      ready(): Promise<void>
      discoveryKey: Buffer
      close(): Promise<void>
    }
    await core.ready()
    const discoveryKey = core.discoveryKey
    await core.close()
    return discoveryKey
  } finally {
    await session.close().catch(noop)
  }
}
