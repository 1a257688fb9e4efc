import type { Clock } from '../core/clock.js'
import type { KeyHex } from '../core/keys.js'
import type { LanCounters } from './lan-counters.js'
import { LabelBook } from './lan-labels.js'
import type { LanTxtRecord } from './lan-socket.js'
import { answerData, labelOfName, nameOf } from './lan-wire.js'

/*
 * The announcing half of LAN discovery: answers queries for the topics we announce, and says
 * so unasked when a topic starts being announced, so hosts already looking it up find us at
 * once instead of at their next query.
 *
 * Answers are multicast (everyone looking the topic up hears them) and rate-limited twice, so
 * a flood of queries cannot make us flood the LAN: one label is answered at most once per
 * ANSWER_INTERVAL_MS (RFC 6762 §6 asks a second per record; a quarter lets two hosts that join
 * a moment apart both be answered), and all answers share a token bucket of
 * `maxAnswersPerSecond` packets. A query beyond either is dropped and counted; its sender asks
 * again on its own schedule.
 */

const ANSWER_INTERVAL_MS = 250
/** Our answer's TTL (s): what mDNS gives records that name a host's services. */
const TTL = 120
/** At most this many questions of one query are looked at (a query is ~60 bytes a question). */
const MAX_QUESTIONS = 64
/** Answers per packet: six TXT answers fit one 1500-byte frame. */
export const MAX_ANSWERS_PER_PACKET = 6
/** The unasked announcement is sent twice (RFC 6762 §8.3), a second apart. */
const REANNOUNCE_MS = 1000

export interface ResponderHooks {
  clock: Clock
  wallNow(): number
  counters: LanCounters
  maxAnswersPerSecond: number
  /** Our public key and TCP port. */
  identity: { publicKey: Uint8Array; port: number }
  send(answers: LanTxtRecord[]): void
  /** Whether a query id is one of our own queries coming back. */
  ownQuery(id: number): boolean
}

export class LanResponder {
  private readonly book: LabelBook
  /** When each label was last multicast (ms, the clock's time). */
  private readonly answeredAt = new Map<string, number>()
  private tokens: number
  private refilledAt: number
  /** Topics announced lately, to be announced once more. */
  private readonly reannounce = new Set<KeyHex>()
  private timer: unknown = null

  constructor(private readonly hooks: ResponderHooks) {
    this.book = new LabelBook(hooks.wallNow)
    this.tokens = hooks.maxAnswersPerSecond
    this.refilledAt = hooks.clock.now()
  }

  get timerCount(): number {
    return this.timer === null ? 0 : 1
  }

  announcing(topic: KeyHex): boolean {
    return this.book.has(topic)
  }

  /** Starts answering for the topic, and says so now and once more a second later. */
  announce(topic: KeyHex): void {
    this.book.add(topic)
    this.sendFor([topic])
    this.reannounce.add(topic)
    if (this.timer === null) {
      this.timer = this.hooks.clock.setTimeout(() => {
        this.timer = null
        const topics = [...this.reannounce].filter((t) => this.book.has(t))
        this.reannounce.clear()
        this.sendFor(topics)
      }, REANNOUNCE_MS)
    }
  }

  withdraw(topic: KeyHex): void {
    this.book.delete(topic)
    this.reannounce.delete(topic)
  }

  /** A received query: answers what it asks of ours, within the limits. */
  onQuery(packet: unknown): void {
    const { id, questions } = packet as { id?: unknown; questions?: unknown }
    if (typeof id === 'number' && this.hooks.ownQuery(id)) return
    if (!Array.isArray(questions) || this.book.size === 0) return
    const now = this.hooks.clock.now()
    const asked = new Map<string, KeyHex>()
    let throttled = false
    for (const question of questions.slice(0, MAX_QUESTIONS)) {
      const { name, type } = (question ?? {}) as { name?: unknown; type?: unknown }
      if (type !== 'TXT' && type !== 'ANY') continue
      const label = labelOfName(name)
      const found = label === null ? null : this.book.find(label)
      if (found === null || label === null) continue
      const last = this.answeredAt.get(label)
      if (last !== undefined && now - last < ANSWER_INTERVAL_MS) throttled = true
      else asked.set(label, found.topic)
    }
    if (asked.size > 0 && !this.take(Math.ceil(asked.size / MAX_ANSWERS_PER_PACKET), now)) {
      throttled = true
      asked.clear()
    }
    // Counted once per query, however many of its questions were held back.
    if (throttled) this.hooks.counters.lanQueriesThrottled++
    if (asked.size === 0) return
    this.forgetOldAnswers(now)
    for (const label of asked.keys()) this.answeredAt.set(label, now)
    this.sendFor([...new Set(asked.values())])
  }

  close(): void {
    if (this.timer !== null) this.hooks.clock.clearTimeout(this.timer)
    this.timer = null
    this.reannounce.clear()
  }

  /** Our answers for these topics, under their current labels, a few per packet. */
  private sendFor(topics: KeyHex[]): void {
    const { publicKey, port } = this.hooks.identity
    const answers: LanTxtRecord[] = []
    for (const topic of topics) {
      const discoveryKey = this.book.discoveryKey(topic)
      if (discoveryKey === null) continue
      // Answered under the current label even when asked under a neighbouring epoch's: the
      // asker recognises all three, and the current one is what every host moves towards.
      const label = this.book.current(topic)
      answers.push({
        name: nameOf(label),
        type: 'TXT',
        ttl: TTL,
        data: answerData(discoveryKey, label, publicKey, port),
      })
    }
    for (let i = 0; i < answers.length; i += MAX_ANSWERS_PER_PACKET) {
      this.hooks.send(answers.slice(i, i + MAX_ANSWERS_PER_PACKET))
      this.hooks.counters.lanAnswersSent++
    }
  }

  /** Takes `n` tokens from the bucket if it has them (refilled by the time since last). */
  private take(n: number, now: number): boolean {
    const rate = this.hooks.maxAnswersPerSecond
    this.tokens = Math.min(rate, this.tokens + ((now - this.refilledAt) / 1000) * rate)
    this.refilledAt = now
    if (this.tokens < n) return false
    this.tokens -= n
    return true
  }

  /** Keeps the per-label record small: a flood of distinct labels cannot grow it for good. */
  private forgetOldAnswers(now: number): void {
    if (this.answeredAt.size < 1024) return
    for (const [label, at] of this.answeredAt) {
      if (now - at >= ANSWER_INTERVAL_MS) this.answeredAt.delete(label)
    }
  }
}
