import { assign, emit, enqueueActions, setup } from 'xstate'
import { assertEvent } from './assert-event.js'
import { ErrorCode, type ErrorInfo } from './errors.js'
import type { KeyHex } from './keys.js'
import type { CoreEffect, OpId, RequestId } from './protocol.js'

/**
 * One discovery key's configuration: join (announce and/or lookup), flush, leave.
 * The last configure wins; every request waiting on the topic settles once the
 * configuration that superseded it is in place (or with an error if that fails or the
 * networker closes). I/O results carry the op they answer, so stale ones are ignored.
 */
export interface TopicContext {
  topic: KeyHex
  announce: boolean
  lookup: boolean
  flushWanted: boolean
  waiting: readonly RequestId[]
  op: OpId
  joined: boolean
  flushed: boolean
  closing: boolean
  /** The last leave failed: the announcement may still be out there. */
  leaveFailed: boolean
}

export type TopicEvent =
  | {
      type: 'configure'
      requestId: RequestId
      announce: boolean
      lookup: boolean
      flush: boolean
    }
  | { type: 'topic-joined'; op: OpId }
  | { type: 'topic-join-failed'; op: OpId; error: ErrorInfo }
  | { type: 'topic-left'; op: OpId }
  | { type: 'topic-leave-failed'; op: OpId; error: ErrorInfo }
  | { type: 'flush-done'; op: OpId }
  | { type: 'flush-failed'; op: OpId; error: ErrorInfo }
  | { type: 'close' }
  /** A close deadline passed: stop waiting for the leave. */
  | { type: 'force-close' }
  /** A request's own deadline passed: it settles with `error`; the configuration goes on. */
  | { type: 'expire'; requestId: RequestId; error: ErrorInfo }

/** What a topic waits on once every request settled: shared, and never written to. */
const NO_REQUESTS: readonly RequestId[] = Object.freeze([])

const closedError: ErrorInfo = {
  code: ErrorCode.NETWORKER_CLOSED,
  message: 'the networker closed before this configure completed',
}

// A close carries no error of its own: its requests fail because the networker closed.
function errorOf(event: TopicEvent): ErrorInfo {
  return 'error' in event ? event.error : closedError
}

// Only I/O results are checked against the current op, and they all carry one.
const RESULTS = [
  'topic-joined',
  'topic-join-failed',
  'topic-left',
  'topic-leave-failed',
  'flush-done',
  'flush-failed',
] as const
function opOf(event: TopicEvent): OpId {
  assertEvent(event, RESULTS)
  return event.op
}

export const topicMachine = setup({
  types: {
    context: {} as TopicContext,
    events: {} as TopicEvent,
    input: {} as { topic: KeyHex; firstOp?: OpId },
    emitted: {} as CoreEffect,
  },
  guards: {
    wantsJoin: ({ event }) => {
      assertEvent(event, 'configure')
      return event.announce || event.lookup
    },
    sameSubscription: ({ context, event }) => {
      assertEvent(event, 'configure')
      return event.announce === context.announce && event.lookup === context.lookup
    },
    sameSubscriptionWithFlush: ({ context, event }) => {
      assertEvent(event, 'configure')
      return event.announce === context.announce && event.lookup === context.lookup && event.flush
    },
    currentOp: ({ context, event }) => opOf(event) === context.op,
    currentOpAndFlushWanted: ({ context, event }) =>
      opOf(event) === context.op && context.flushWanted,
    desiresJoin: ({ context }) => context.announce || context.lookup,
    waitsFor: ({ context, event }) => {
      assertEvent(event, 'expire')
      return context.waiting.includes(event.requestId)
    },
    closing: ({ context }) => context.closing,
  },
  actions: {
    record: assign(({ context, event }) => {
      assertEvent(event, 'configure')
      // Every waiting join that asked for a flush gets one, even when a later request
      // without flush supersedes it; a leave has nothing to flush.
      const joins = event.announce || event.lookup
      return {
        announce: event.announce,
        lookup: event.lookup,
        flushWanted: context.flushWanted || (joins && event.flush),
        waiting: context.waiting.concat(event.requestId),
      }
    }),
    nextOp: assign({ op: ({ context }) => context.op + 1 }),
    markJoined: assign({ joined: true, flushed: false }),
    markFlushed: assign({ flushed: true }),
    markLeft: assign({ joined: false, flushed: false }),
    forgetSubscription: assign({ announce: false, lookup: false }),
    markClosing: assign({ closing: true }),
    markLeaveFailed: assign({ leaveFailed: true }),
    markLeaveDone: assign({ leaveFailed: false }),
    emitJoin: emit(({ context }) => ({
      type: 'join-topic' as const,
      topic: context.topic,
      op: context.op,
      announce: context.announce,
      lookup: context.lookup,
    })),
    emitLeave: emit(({ context }) => ({
      type: 'leave-topic' as const,
      topic: context.topic,
      op: context.op,
    })),
    emitFlush: emit(({ context }) => ({
      type: 'flush-swarm' as const,
      topic: context.topic,
      op: context.op,
    })),
    // Settling and forgetting the waiting requests are two actions, always listed together
    // (settleAll or failAll, then clearWaiting): a plain assign after the emits lets the
    // lean runner fold it into the transition's other assigns (one copy of the context).
    // Index loops: for...of made an iterator and a result object per settle.
    settleAll: enqueueActions(({ context, enqueue }) => {
      const { waiting } = context
      for (let i = 0; i < waiting.length; i++) {
        enqueue.emit({ type: 'settle', requestId: waiting[i] as RequestId })
      }
    }),
    clearWaiting: assign({ waiting: NO_REQUESTS, flushWanted: false }),
    expire: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'expire')
      const { requestId, error } = event
      enqueue.emit({ type: 'settle', requestId, error })
      enqueue.assign({ waiting: context.waiting.filter((id) => id !== requestId) })
    }),
    failAll: enqueueActions(({ context, event, enqueue }) => {
      const error = errorOf(event)
      const { waiting } = context
      for (let i = 0; i < waiting.length; i++) {
        enqueue.emit({ type: 'settle', requestId: waiting[i] as RequestId, error })
      }
    }),
  },
}).createMachine({
  id: 'topic',
  context: ({ input }) => ({
    topic: input.topic,
    announce: false,
    lookup: false,
    flushWanted: false,
    waiting: [],
    // A topic forgotten and configured again starts past every op of its earlier life, so
    // a late result of that life can never pass for a current one.
    op: input.firstOp ?? 0,
    joined: false,
    flushed: false,
    closing: false,
    leaveFailed: false,
  }),
  initial: 'left',
  // In whatever state the topic is, a request that has waited too long stops waiting.
  on: { expire: { guard: 'waitsFor', actions: 'expire' } },
  states: {
    left: {
      on: {
        configure: [
          { guard: 'wantsJoin', actions: 'record', target: 'joining' },
          { actions: ['record', 'settleAll', 'clearWaiting'] },
        ],
        // Nothing waits here (every request settles on the way in) and nothing is announced.
        close: { target: 'closed' },
      },
    },
    joining: {
      entry: ['nextOp', 'emitJoin'],
      on: {
        configure: [
          { guard: 'sameSubscription', actions: 'record' },
          { guard: 'wantsJoin', actions: 'record', target: 'joining', reenter: true },
          { actions: 'record', target: 'leaving' },
        ],
        'topic-joined': [
          { guard: 'currentOpAndFlushWanted', actions: 'markJoined', target: 'flushing' },
          {
            guard: 'currentOp',
            actions: ['settleAll', 'markJoined', 'clearWaiting'],
            target: 'joined',
          },
        ],
        'topic-join-failed': {
          guard: 'currentOp',
          actions: ['failAll', 'clearWaiting', 'forgetSubscription'],
          // Clean up whatever part of the join the swarm did.
          target: 'leaving',
        },
        close: {
          actions: ['failAll', 'clearWaiting', 'markClosing', 'forgetSubscription'],
          target: 'leaving',
        },
      },
    },
    flushing: {
      entry: ['nextOp', 'emitFlush'],
      on: {
        configure: [
          { guard: 'sameSubscription', actions: 'record' },
          { guard: 'wantsJoin', actions: 'record', target: 'joining' },
          { actions: 'record', target: 'leaving' },
        ],
        'flush-done': {
          guard: 'currentOp',
          actions: ['settleAll', 'markFlushed', 'clearWaiting'],
          target: 'joined',
        },
        'flush-failed': {
          guard: 'currentOp',
          actions: ['failAll', 'clearWaiting'],
          target: 'joined',
        },
        close: {
          actions: ['failAll', 'clearWaiting', 'markClosing', 'forgetSubscription'],
          target: 'leaving',
        },
      },
    },
    joined: {
      on: {
        configure: [
          { guard: 'sameSubscriptionWithFlush', actions: 'record', target: 'flushing' },
          { guard: 'sameSubscription', actions: ['record', 'settleAll', 'clearWaiting'] },
          { guard: 'wantsJoin', actions: 'record', target: 'joining' },
          { actions: 'record', target: 'leaving' },
        ],
        // Nothing waits once joined: every request settled on the way in.
        close: { actions: ['markClosing', 'forgetSubscription'], target: 'leaving' },
      },
    },
    leaving: {
      entry: ['nextOp', 'markLeft', 'emitLeave'],
      on: {
        // Join again only once the leave is done, so a late unannounce cannot remove
        // the fresh announcement.
        configure: { actions: 'record' },
        'topic-left': { guard: 'currentOp', actions: 'markLeaveDone', target: 'afterLeave' },
        'topic-leave-failed': [
          // A join requested meanwhile goes ahead: its requests wait for it, not for the
          // failed leave, and keep their wish to flush.
          {
            // A close forgets the subscription, so a closing topic never goes this way. Not
            // marked as failed: every close leaves again, and only that leave is reported.
            guard: ({ context, event }) =>
              opOf(event) === context.op && (context.announce || context.lookup),
            target: 'joining',
          },
          {
            guard: 'currentOp',
            actions: ['failAll', 'markLeaveFailed', 'clearWaiting'],
            target: 'afterLeave',
          },
        ],
        // Only sent while the networker closes, so this topic is closing too.
        'force-close': { actions: 'markLeaveFailed', target: 'closed' },
        close: { actions: ['failAll', 'clearWaiting', 'markClosing', 'forgetSubscription'] },
      },
    },
    afterLeave: {
      always: [
        { guard: 'closing', target: 'closed' },
        { guard: 'desiresJoin', target: 'joining' },
        { actions: ['settleAll', 'clearWaiting'], target: 'left' },
      ],
    },
    // The networker answers configures itself once it is closing, so none reach here.
    closed: {},
  },
})
