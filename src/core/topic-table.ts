import type { KeyHex } from './keys.js'
import { type Instance, type LeanHost, LeanMachine, type LeanState } from './lean-machine.js'
import type { CoreEffect, TopicNotice, TopicState, TopicStatus } from './protocol.js'
import { type TopicContext, type TopicEvent, topicMachine } from './topic-machine.js'

// Compiled once; a topic is only its state and context (lean-machine.ts), written in place:
// the table keeps no context across a step (it reads what it compares before it), and the
// core hands out copies of what it reads (statusOf). A close steps every topic: no copies.
const machine = new LeanMachine(topicMachine, { owned: true })

type TopicRecord = Instance<TopicContext>
/** A topic's record: made by one function for every topic, not a closure per topic. */
const makeRecord = (state: LeanState, context: TopicContext): TopicRecord => ({ state, context })
const NONE: readonly KeyHex[] = []
/** No notices: shared, and never written to (the first notice of an event replaces it). */
export const NO_NOTICES: readonly TopicNotice[] = Object.freeze([])

/**
 * Every configured topic, each an instance of the topic machine, and what follows from
 * their steps: the notices for the face, how many are not closed yet, and which were left
 * with nothing pending (forgotten once the event is handled).
 */
export class TopicTable {
  private readonly records = new Map<KeyHex, TopicRecord>()
  /** Topics left with nothing pending: forgotten by `forgetSettled`. */
  private readonly settledLeft = new Set<KeyHex>()
  private unclosed = 0
  /** Ops of forgotten topics stay below this, so a topic configured again never reuses one. */
  private opFloor = 0
  /** What changed since the face last took them: joined, flushed, left, in order. */
  notices: readonly TopicNotice[] = NO_NOTICES

  constructor(private readonly host: LeanHost<never, CoreEffect>) {}

  /** The current op of a topic, or null for a topic not configured. */
  opOf(topic: KeyHex): number | null {
    return this.records.get(topic)?.context.op ?? null
  }

  /** Sends an event to a topic, making it first for a configure. */
  send(topic: KeyHex, event: TopicEvent): void {
    let record = this.records.get(topic)
    if (record === undefined) {
      if (event.type !== 'configure') return
      const input = { topic, firstOp: this.opFloor }
      record = machine.start(input, makeRecord, this.host)
      this.records.set(topic, record)
      this.unclosed++
    }
    this.step(record, event)
  }

  /** Sends an event to every topic, in the order they were configured. */
  sendAll(event: TopicEvent): void {
    for (const record of this.records.values()) this.step(record, event)
  }

  get allClosed(): boolean {
    return this.unclosed === 0
  }

  /** Topics whose last leave failed: their announcement may still be out there. */
  unannounced(): KeyHex[] {
    // Asked once every topic is closed: forEach makes no [topic, record] pair per topic.
    const out: KeyHex[] = []
    this.records.forEach((record, topic) => {
      if (record.context.leaveFailed) out.push(topic)
    })
    return out
  }

  status(topic: KeyHex): TopicStatus | null {
    const record = this.records.get(topic)
    return record === undefined ? null : statusOf(topic, record)
  }

  statuses(): TopicStatus[] {
    const out: TopicStatus[] = []
    this.records.forEach((record, topic) => {
      out.push(statusOf(topic, record))
    })
    return out
  }

  /** Forgets the topics left with nothing pending; returns them. */
  forgetSettled(): readonly KeyHex[] {
    // Most events leave no topic behind: no list is made for them.
    if (this.settledLeft.size === 0) return NONE
    const out = [...this.settledLeft]
    this.settledLeft.clear()
    for (const topic of out) {
      const record = this.records.get(topic) as TopicRecord
      this.opFloor = Math.max(this.opFloor, record.context.op)
      this.records.delete(topic)
      // Only a left topic is forgotten, and a left one is not closed.
      this.unclosed--
    }
    return out
  }

  /**
   * Notes a change for the face. Most events change one topic once: an array of exactly one
   * is made for it, where a push onto an empty one makes room for 17.
   */
  private notice(notice: TopicNotice): void {
    if (this.notices.length === 0) this.notices = [notice]
    else (this.notices as TopicNotice[]).push(notice)
  }

  /** Steps one topic, and notes what changed: notices, closed, left with nothing pending. */
  private step(record: TopicRecord, event: TopicEvent): void {
    const { joined, flushed } = record.context
    const wasLeft = record.state.top === 'left'
    const wasClosed = record.state.top === 'closed'
    machine.send(record, event, this.host)
    const { context, state } = record
    const { topic } = context
    if (state.top === 'closed' && !wasClosed) this.unclosed--
    if (context.joined && !joined) this.notice({ type: 'joined', topic })
    if (context.flushed && !flushed) this.notice({ type: 'flushed', topic })
    const isLeft = state.top === 'left'
    if (isLeft && !wasLeft) this.notice({ type: 'left', topic })
    // Left, nothing waiting, nothing possibly still announced: nothing to remember.
    if (isLeft && context.waiting.length === 0 && !context.leaveFailed) {
      this.settledLeft.add(topic)
    } else {
      this.settledLeft.delete(topic)
    }
  }
}

function statusOf(topic: KeyHex, record: TopicRecord): TopicStatus {
  const { context, state } = record
  return {
    topic,
    announce: context.announce,
    lookup: context.lookup,
    joined: context.joined,
    flushed: context.flushed,
    state: state.top as TopicState,
  }
}
