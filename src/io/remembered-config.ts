import b4a from 'b4a'
import { ErrorCode, NetworkerError } from '../core/errors.js'
import { bytesToHex, describe, hexToBytes, type KeyHex } from '../core/keys.js'
import {
  decodeRecord,
  encodeRecord,
  entryOf,
  isNamespacingStore,
  isRecordStore,
  type OpenedRecords,
  openCorestoreRecords,
  type RecordStore,
  type TopicConfig,
} from './record-store.js'
import { asError, messageOf, noop } from './util.js'

/** The `persist` option: off, on (records in the Corestore itself), or your own record store. */
export type PersistOption = boolean | RecordStore

/** One remembered configuration. */
export interface RecordedTopic {
  discoveryKey: Buffer
  announce: boolean
  lookup: boolean
}

/** A record that could not be used: damaged, or of a format version this release does not know. */
export interface SkippedRecord {
  key: string
  error: NetworkerError
}

export interface RestoreReport {
  /** Topics configured again from their records. */
  restored: RecordedTopic[]
  /** Records whose configure failed (or was cut short); each keeps its record. */
  failed: (RecordedTopic & { error: Error })[]
  /** Records that were configured in this process before `restore()` ran: left as they are. */
  kept: RecordedTopic[]
  /** Records left out: damaged, or of an unknown format version. They stay in the store. */
  skipped: SkippedRecord[]
  /** The record store could not be opened or read to the end (PERSIST_FAILED); what was read is restored. */
  error: NetworkerError | null
}

/** What `restore()` passes on to each `configure`. */
export interface RestoreOptions {
  /**
   * Wait for a swarm flush of every restored topic. Default false: a flush waits for dials to
   * every peer that announced the topic, and after a crash those include our own dead earlier
   * processes, so a flushing restore grows slower with every restart.
   */
  flush?: boolean
  timeout?: number
  signal?: AbortSignal
}

/** The status of a recorded topic that this process has not configured (yet). */
export interface RecordedStatus {
  discoveryKey: Buffer
  announce: boolean
  lookup: boolean
  joined: false
  flushed: false
}

export interface RememberedConfigHooks {
  /** A record was skipped while reading the store. */
  skipped(err: NetworkerError, key: string): void
  /** The store failed to open, to be read, or to take a write. */
  failed(err: NetworkerError): void
}

/** A validated `persist` option, not yet opened. */
export interface PersistPlan {
  open(): Promise<OpenedRecords>
  owner: object
  scope: string
}

// One persisting networker per record store at a time: two would each believe their own view
// of the records and undo each other's writes. Keyed by the Corestore's storage and namespace.
const claims = new WeakMap<object, Set<string>>()

/**
 * Validates the `persist` option against the store (throws INVALID_OPTION), without opening
 * anything. Returns null when persistence is off.
 */
export function planPersist(store: unknown, persist: unknown): PersistPlan | null {
  if (persist === undefined || persist === false) return null
  let plan: PersistPlan
  if (persist === true) {
    if (!isNamespacingStore(store)) {
      throw new NetworkerError(
        ErrorCode.INVALID_OPTION,
        'persist: true keeps its records in the Corestore and needs store.namespace(); ' +
          'give persist a record store ({ put, del, iterate }) instead',
      )
    }
    const { storage, ns } = store as { storage?: unknown; ns?: unknown }
    plan = {
      open: () => openCorestoreRecords(store),
      owner: typeof storage === 'object' && storage !== null ? storage : store,
      scope: ns instanceof Uint8Array ? bytesToHex(ns) : '',
    }
  } else if (isRecordStore(persist)) {
    plan = {
      open: async () => ({ store: persist, close: async () => {} }),
      owner: persist,
      scope: '',
    }
  } else {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `persist must be a boolean or a record store ({ put, del, iterate }), got ${describe(persist)}`,
    )
  }
  if (claims.get(plan.owner)?.has(plan.scope) === true) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      'another open networker already persists its configuration in this store; close it first',
    )
  }
  return plan
}

/**
 * The remembered configurations of one networker: reads them once, records every configure
 * in call order (so the last call's configuration is the one on disk), and re-applies them.
 * Every store operation runs on one queue, one at a time.
 */
export class RememberedConfig {
  private readonly recorded = new Map<KeyHex, TopicConfig>()
  /** Keys the store holds, readable or not: a leave deletes only what is there. */
  private readonly present = new Set<string>()
  private readonly skipped: SkippedRecord[] = []
  private loadError: NetworkerError | null = null
  /** The read went to the end: `recorded` and `present` mirror the store. */
  private trusted = false
  private loaded = false
  private opened: OpenedRecords | null = null
  private tail: Promise<unknown>
  private closing: Promise<void> | null = null
  private stopWaiting: (() => void) | null = null

  constructor(
    private readonly plan: PersistPlan,
    private readonly hooks: RememberedConfigHooks,
  ) {
    let scopes = claims.get(plan.owner)
    if (scopes === undefined) {
      scopes = new Set()
      claims.set(plan.owner, scopes)
    }
    scopes.add(plan.scope)
    this.tail = this.load()
  }

  /**
   * Records a topic's configuration (a leave deletes the record). Resolves once the store has
   * it; rejects with PERSIST_FAILED if the store fails.
   */
  record(topic: KeyHex, config: TopicConfig): Promise<void> {
    if (this.closing !== null) {
      return Promise.reject(
        new NetworkerError(ErrorCode.NETWORKER_CLOSED, 'the networker is closed'),
      )
    }
    return this.enqueue(() => this.write(topic, config))
  }

  /**
   * Configures again every recorded topic this process has not configured yet (`isKnown`), in
   * parallel, and reports how each went. Waits for the records to be read and for every
   * write queued before it, then for every topic to be joined (and flushed only if asked).
   */
  async restore(
    isKnown: (topic: KeyHex) => boolean,
    configure: (topic: KeyHex, config: TopicConfig & RestoreOptions) => Promise<void>,
    opts: RestoreOptions = {},
  ): Promise<RestoreReport> {
    await this.enqueue(async () => {})
    const kept: RecordedTopic[] = []
    const applying: { topic: RecordedTopic; done: Promise<void> }[] = []
    for (const [topic, config] of this.recorded) {
      const info = recordedTopic(topic, config)
      if (isKnown(topic)) {
        kept.push(info)
        continue
      }
      const done = configure(topic, {
        ...opts,
        flush: opts.flush ?? false,
        announce: config.announce,
        lookup: config.lookup,
      })
      applying.push({ topic: info, done })
    }
    const results = await Promise.allSettled(applying.map((a) => a.done))
    const restored: RecordedTopic[] = []
    const failed: (RecordedTopic & { error: Error })[] = []
    results.forEach((result, i) => {
      const { topic } = applying[i]!
      if (result.status === 'fulfilled') restored.push(topic)
      else failed.push({ ...topic, error: asError(result.reason) })
    })
    return { restored, failed, kept, skipped: [...this.skipped], error: this.loadError }
  }

  /** Recorded topics this process has not configured, once the records have been read. */
  statuses(isKnown: (topic: KeyHex) => boolean): RecordedStatus[] {
    if (!this.loaded) return []
    const out: RecordedStatus[] = []
    for (const [topic, config] of this.recorded) {
      if (!isKnown(topic)) out.push(recordedStatus(topic, config))
    }
    return out
  }

  status(topic: KeyHex): RecordedStatus | null {
    const config = this.loaded ? this.recorded.get(topic) : undefined
    return config === undefined ? null : recordedStatus(topic, config)
  }

  /**
   * Lets every queued write finish, then closes the store if the networker opened it (never
   * a store it was given). `giveUp()` resolves the returned promise at once.
   */
  close(): Promise<void> {
    if (this.closing === null) {
      const closed = this.tail.then(async () => {
        await this.opened?.close()
        this.opened = null
        claims.get(this.plan.owner)?.delete(this.plan.scope)
      })
      const givenUp = new Promise<void>((resolve) => {
        this.stopWaiting = resolve
      })
      this.closing = Promise.race([closed, givenUp])
    }
    return this.closing
  }

  /** A close deadline passed: stop waiting for the store (it finishes closing on its own). */
  giveUp(): void {
    this.stopWaiting?.()
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task)
    this.tail = run.then(noop, noop)
    return run
  }

  private async load(): Promise<void> {
    try {
      this.opened = await this.plan.open()
    } catch (err) {
      this.fail('the record store could not be opened', err)
      this.loaded = true
      return
    }
    try {
      for await (const item of this.opened.store.iterate()) {
        const { key, value } = entryOf(item)
        const record = decodeRecord(key, value)
        if (record.ok) {
          this.recorded.set(record.topic, record.config)
          this.present.add(record.topic)
          continue
        }
        if (record.key !== '') this.present.add(record.key)
        this.skipped.push({ key: record.key, error: record.error })
        this.hooks.skipped(record.error, record.key)
      }
      this.trusted = true
    } catch (err) {
      this.fail('reading the records failed', err)
    }
    this.loaded = true
  }

  private async write(topic: KeyHex, config: TopicConfig): Promise<void> {
    const store = this.opened?.store
    if (store === undefined) {
      throw new NetworkerError(
        ErrorCode.PERSIST_FAILED,
        `the record store is unavailable (${this.loadError?.message ?? 'closed'})`,
      )
    }
    const leave = !config.announce && !config.lookup
    const had = this.recorded.get(topic)
    if (this.trusted) {
      if (leave && !this.present.has(topic)) return
      if (!leave && had?.announce === config.announce && had.lookup === config.lookup) return
    }
    try {
      if (leave) {
        await store.del(topic)
        this.recorded.delete(topic)
        this.present.delete(topic)
      } else {
        await store.put(topic, encodeRecord(config))
        this.recorded.set(topic, { announce: config.announce, lookup: config.lookup })
        this.present.add(topic)
      }
    } catch (err) {
      // The store may or may not hold the write: forget what we knew, so the next write for
      // this topic is made whatever it says.
      this.recorded.delete(topic)
      this.present.add(topic)
      const error = new NetworkerError(
        ErrorCode.PERSIST_FAILED,
        `recording the configuration of topic ${topic} failed: ${messageOf(err)}`,
        { cause: err },
      )
      this.hooks.failed(error)
      throw error
    }
  }

  private fail(what: string, err: unknown): void {
    this.loadError = new NetworkerError(ErrorCode.PERSIST_FAILED, `${what}: ${messageOf(err)}`, {
      cause: err,
    })
    this.hooks.failed(this.loadError)
  }
}

function recordedTopic(topic: KeyHex, config: TopicConfig): RecordedTopic {
  return {
    discoveryKey: b4a.from(hexToBytes(topic)),
    announce: config.announce,
    lookup: config.lookup,
  }
}

function recordedStatus(topic: KeyHex, config: TopicConfig): RecordedStatus {
  return { ...recordedTopic(topic, config), joined: false, flushed: false }
}
