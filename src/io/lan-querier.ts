import b4a from 'b4a'
import type { Clock } from '../core/clock.js'
import { bytesToHex, hexToBytes, type KeyHex } from '../core/keys.js'
import { log, short } from './debug-log.js'
import type { LanCounters } from './lan-counters.js'
import { LabelBook } from './lan-labels.js'
import type { LanQuestion, LanSender } from './lan-socket.js'
import { macVerifies, nameOf, parseRecord } from './lan-wire.js'
import { messageOf } from './util.js'

/*
 * The looking-up half of LAN discovery: asks the LAN for the topics we look up, checks each
 * answer, and dials the keys that answer truly over direct TCP.
 *
 * A topic is asked for when it is configured, then 1, 2, 4, 8 and 16 s later, then every
 * `queryInterval` (each wait stretched by up to a tenth, so hosts started together drift
 * apart). Topics due within BATCH_MS of each other go in one query packet. A flush asks a
 * lookup round of its own: a query (unless one went out less than a window ago), then
 * `lookupWindow` ms to hear answers, then the dials those answers started, until their keys are
 * peers, for DIAL_WAIT_MS at most. A lost peer has the topics it shared asked for again at once.
 *
 * An answer is acted on only if its label is one of ours and its MAC verifies under that
 * topic's key; Noise then checks the key we reach is the one answered. We never dial
 * ourselves, a key that is a peer already, a key being dialed, or a key whose last dials
 * failed until its backoff has passed. When both ends announce, the smaller key gives the
 * larger one's dial DEFER_MS to arrive first, so the pair makes one connection, not two.
 */

const FIRST_DELAYS = [1000, 2000, 4000, 8000, 16_000]
/** A lost peer makes a topic be asked for again unless it was this recently. */
const AGAIN_AFTER_MS = 1000
const JITTER = 0.1
const BATCH_MS = 250
/** Questions per query packet: twenty fit one 1500-byte frame. */
export const MAX_QUESTIONS_PER_PACKET = 20
/** Records of one response looked at; a packet with more is not one of ours. */
const MAX_RECORDS = 64
/** How long a flush waits for one dial its lookup round started. */
export const DIAL_WAIT_MS = 5000
/** How often a flush waiting for dials looks whether their keys are peers already. */
const DIAL_LOOK_MS = 50
/** How long the end whose dial the duplicate rule would drop waits for the other's (see consider). */
export const DEFER_MS = 1000
/** Dials in flight at once: answers beyond are left for the next query. */
const MAX_DIALS = 16
/** A key whose dial failed waits 1, 2, 4 … 60 s before it is dialed again. */
const FAIL_BASE_MS = 1000
const FAIL_MAX_MS = 60_000
const REMEMBERED_FAILURES = 1024

/** Where a key was found: what `transports.dial` is given. */
export interface LanDialTarget {
  host: string
  port: number
  publicKey: Buffer
  /** The topics it answered for: the connection's `info.topics`. */
  topics: Buffer[]
}

export interface QuerierHooks {
  clock: Clock
  wallNow(): number
  counters: LanCounters
  /** Our own key: answers with it are our own, looped back. */
  localKey: KeyHex
  queryInterval: number
  lookupWindow: number
  connected(remoteKey: KeyHex): boolean
  /** We announce this topic: a host that answered for it may be dialing us too. */
  announcing(topic: KeyHex): boolean
  dial(target: LanDialTarget): Promise<unknown>
  send(questions: LanQuestion[]): void
}

interface Schedule {
  attempt: number
  nextAt: number
  queriedAt: number | null
}

interface Round {
  topic: KeyHex
  timer: unknown
  resolve(): void
}

interface Failure {
  count: number
  notBefore: number
}

export class LanQuerier {
  private readonly book: LabelBook
  private readonly schedule = new Map<KeyHex, Schedule>()
  private timer: unknown = null
  private timerAt: number | null = null
  private readonly rounds = new Set<Round>()
  /** Dials in flight by key; each promise settles (never rejects) when the dial ends. */
  private readonly inflight = new Map<KeyHex, Promise<void>>()
  /** The keys being dialed for each topic, for the lookup rounds of its flushes. */
  private readonly dialsOf = new Map<KeyHex, Set<KeyHex>>()
  /** Dials deferred (see `consider`), each with its timer. */
  private readonly waits = new Set<{ timer: unknown; resolve(): void }>()
  private readonly failures = new Map<KeyHex, Failure>()
  private closed = false

  constructor(private readonly hooks: QuerierHooks) {
    this.book = new LabelBook(hooks.wallNow)
  }

  get timerCount(): number {
    let n = (this.timer === null ? 0 : 1) + this.waits.size
    for (const round of this.rounds) if (round.timer !== null) n++
    return n
  }

  lookingUp(topic: KeyHex): boolean {
    return this.book.has(topic)
  }

  /** Looks the topic up now and on the schedule from its start (a configure starts it anew). */
  lookup(topic: KeyHex): void {
    this.book.add(topic)
    this.schedule.set(topic, { attempt: 0, nextAt: this.hooks.clock.now(), queriedAt: null })
    this.arm()
  }

  /**
   * A peer we shared these topics with was lost: each of them we look up is asked for again
   * now (unless it was within the last second) rather than at its next turn, up to
   * `queryInterval` away. Whoever is still there answers; the schedule goes on as it was.
   */
  again(topics: readonly KeyHex[]): void {
    const now = this.hooks.clock.now()
    for (const topic of topics) {
      const entry = this.schedule.get(topic)
      if (entry === undefined) continue
      if (entry.queriedAt === null || now - entry.queriedAt >= AGAIN_AFTER_MS) {
        entry.nextAt = Math.min(entry.nextAt, now)
      }
    }
    this.arm()
  }

  stop(topic: KeyHex): void {
    this.book.delete(topic)
    this.schedule.delete(topic)
    // A flush of a topic no longer looked up has nothing to wait for.
    for (const round of [...this.rounds]) if (round.topic === topic) this.finish(round)
    if (this.schedule.size === 0) this.disarm()
  }

  /** A flush's lookup round: resolves once answers had their window and their dials ended. */
  round(topic: KeyHex): Promise<void> {
    const entry = this.schedule.get(topic)
    if (entry === undefined || this.closed) return Promise.resolve()
    const now = this.hooks.clock.now()
    let queriedAt = entry.queriedAt
    if (queriedAt === null || now - queriedAt >= this.hooks.lookupWindow) {
      entry.nextAt = now
      queriedAt = now
      this.arm()
    }
    return new Promise((resolve) => {
      const round: Round = { topic, timer: null, resolve }
      this.rounds.add(round)
      const wait = Math.max(0, queriedAt + this.hooks.lookupWindow - now)
      round.timer = this.hooks.clock.setTimeout(() => this.awaitDials(round), wait)
    })
  }

  /** A received response: verifies what it says of our topics and dials who answered. */
  onResponse(packet: unknown, from: LanSender): void {
    if (this.closed || this.book.size === 0) return
    const { answers, additionals } = packet as { answers?: unknown; additionals?: unknown }
    const records = [
      ...(Array.isArray(answers) ? answers : []),
      ...(Array.isArray(additionals) ? additionals : []),
    ]
    if (records.length > MAX_RECORDS) {
      this.hooks.counters.lanAnswersRejected++
      return
    }
    const found = new Map<KeyHex, { port: number; topics: Set<KeyHex> }>()
    for (const record of records) {
      const parsed = parseRecord(record)
      if (parsed.kind === 'foreign') continue
      if (parsed.kind === 'malformed') {
        this.hooks.counters.lanAnswersRejected++
        continue
      }
      const { answer } = parsed
      // Another topic's answer, or one of an epoch we no longer recognise: not ours to judge.
      const ours = this.book.find(answer.label)
      if (ours === null) continue
      if (!macVerifies(ours.discoveryKey, answer)) {
        this.hooks.counters.lanAnswersRejected++
        continue
      }
      const key = bytesToHex(answer.publicKey)
      if (key === this.hooks.localKey) continue
      this.hooks.counters.lanAnswersAccepted++
      const entry = found.get(key)
      if (entry === undefined) found.set(key, { port: answer.port, topics: new Set([ours.topic]) })
      else if (entry.port === answer.port) entry.topics.add(ours.topic)
    }
    for (const [key, { port, topics }] of found) this.consider(key, from.address, port, topics)
  }

  close(): void {
    this.closed = true
    this.disarm()
    for (const round of [...this.rounds]) this.finish(round)
    for (const wait of [...this.waits]) {
      this.hooks.clock.clearTimeout(wait.timer)
      wait.resolve()
    }
    this.schedule.clear()
  }

  /** Dials a key that answered truly, unless one of the rules above says not to. */
  private consider(key: KeyHex, host: string, port: number, topics: Set<KeyHex>): void {
    if (this.hooks.connected(key)) return
    if (this.inflight.has(key)) {
      for (const topic of topics) this.track(topic, key)
      return
    }
    const now = this.hooks.clock.now()
    const failure = this.failures.get(key)
    if (failure !== undefined && now < failure.notBefore) return
    if (this.inflight.size >= MAX_DIALS) return
    const target: LanDialTarget = {
      host,
      port,
      publicKey: b4a.from(hexToBytes(key)),
      topics: [...topics].map((t) => b4a.from(hexToBytes(t))),
    }
    // When the other end may dial us too (we announce a topic it answered for), the end whose
    // dial the duplicate rule keeps (the larger key) dials at once and the other only once
    // DEFER_MS have passed without it: one connection rather than two, one of them held as a
    // contested duplicate until it times out.
    const both = [...topics].some((t) => this.hooks.announcing(t))
    const wait = both && this.hooks.localKey < key ? DEFER_MS : 0
    const settled = this.after(wait)
      .then(() => {
        if (this.closed || this.hooks.connected(key)) return
        this.hooks.counters.lanDials++
        if (log.lan.enabled) log.lan('dial %s at %s:%d', short(key), host, port)
        return this.hooks.dial(target).then(
          () => {
            this.failures.delete(key)
          },
          (err: unknown) => {
            this.hooks.counters.lanDialsFailed++
            this.failed(key)
            if (log.lan.enabled) log.lan('dial %s failed: %s', short(key), messageOf(err))
          },
        )
      })
      .finally(() => {
        this.inflight.delete(key)
        for (const topic of topics) this.untrack(topic, key)
      })
    this.inflight.set(key, settled)
    for (const topic of topics) this.track(topic, key)
  }

  /** Resolves `ms` later on the clock (at once for 0; at close, early). */
  private after(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve()
    return new Promise((resolve) => {
      const wait = {
        timer: null as unknown,
        resolve: () => {
          this.waits.delete(wait)
          resolve()
        },
      }
      wait.timer = this.hooks.clock.setTimeout(wait.resolve, ms)
      this.waits.add(wait)
    })
  }

  private track(topic: KeyHex, key: KeyHex): void {
    let keys = this.dialsOf.get(topic)
    if (keys === undefined) {
      keys = new Set()
      this.dialsOf.set(topic, keys)
    }
    keys.add(key)
  }

  private untrack(topic: KeyHex, key: KeyHex): void {
    const keys = this.dialsOf.get(topic)
    keys?.delete(key)
    if (keys?.size === 0) this.dialsOf.delete(topic)
  }

  private failed(key: KeyHex): void {
    const count = (this.failures.get(key)?.count ?? 0) + 1
    this.failures.delete(key)
    if (this.failures.size >= REMEMBERED_FAILURES) {
      // The oldest first: a Map keeps insertion order, and a failure is re-inserted.
      const oldest = this.failures.keys().next().value
      if (oldest !== undefined) this.failures.delete(oldest)
    }
    const wait = Math.min(FAIL_MAX_MS, FAIL_BASE_MS * 2 ** (count - 1))
    this.failures.set(key, { count, notBefore: this.hooks.clock.now() + wait })
  }

  /**
   * The round's window is over: it waits for the dials its answers started, within bounds, and
   * no longer than it takes their keys to be peers (a dial whose connection the duplicate rule
   * holds as a contested duplicate may take seconds to end, with its key listed all along).
   */
  private awaitDials(round: Round): void {
    round.timer = null
    const pending = (): KeyHex[] =>
      [...(this.dialsOf.get(round.topic) ?? [])].filter((key) => !this.hooks.connected(key))
    const keys = pending()
    if (keys.length === 0) {
      this.finish(round)
      return
    }
    const deadline = this.hooks.clock.now() + DIAL_WAIT_MS
    const look = (): void => {
      round.timer = null
      if (pending().length === 0 || this.hooks.clock.now() >= deadline) this.finish(round)
      else round.timer = this.hooks.clock.setTimeout(look, DIAL_LOOK_MS)
    }
    round.timer = this.hooks.clock.setTimeout(look, DIAL_LOOK_MS)
    const dials = keys.map((key) => this.inflight.get(key))
    Promise.all(dials).then(() => {
      if (pending().length === 0) this.finish(round)
    })
  }

  private finish(round: Round): void {
    if (!this.rounds.delete(round)) return
    if (round.timer !== null) this.hooks.clock.clearTimeout(round.timer)
    round.timer = null
    round.resolve()
  }

  /** Sends every topic due now or within BATCH_MS, then schedules each one's next query. */
  private fire(): void {
    this.timer = null
    this.timerAt = null
    const now = this.hooks.clock.now()
    const due: KeyHex[] = []
    for (const [topic, entry] of this.schedule) {
      if (entry.nextAt > now + BATCH_MS) continue
      due.push(topic)
      entry.queriedAt = now
      const base = FIRST_DELAYS[entry.attempt] ?? this.hooks.queryInterval
      entry.nextAt = now + Math.min(base, this.hooks.queryInterval) * (1 + Math.random() * JITTER)
      entry.attempt++
    }
    for (let i = 0; i < due.length; i += MAX_QUESTIONS_PER_PACKET) {
      const questions = due
        .slice(i, i + MAX_QUESTIONS_PER_PACKET)
        .map((topic): LanQuestion => ({ name: nameOf(this.book.current(topic)), type: 'TXT' }))
      this.hooks.send(questions)
      this.hooks.counters.lanQueriesSent++
    }
    this.arm()
  }

  /** One timer, for the earliest query due. */
  private arm(): void {
    if (this.closed) return
    let at = Number.POSITIVE_INFINITY
    for (const entry of this.schedule.values()) at = Math.min(at, entry.nextAt)
    if (at === Number.POSITIVE_INFINITY) {
      this.disarm()
      return
    }
    if (this.timerAt !== null && this.timerAt <= at) return
    this.disarm()
    this.timerAt = at
    this.timer = this.hooks.clock.setTimeout(
      () => this.fire(),
      Math.max(0, at - this.hooks.clock.now()),
    )
  }

  private disarm(): void {
    if (this.timer !== null) this.hooks.clock.clearTimeout(this.timer)
    this.timer = null
    this.timerAt = null
  }
}
