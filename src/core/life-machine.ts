import { assign, emit, enqueueActions, setup } from 'xstate'
import { assertEvent } from './assert-event.js'
import type { CloseReport, CoreEffect, RequestId } from './protocol.js'

/**
 * The networker's own life: open → closing (topics leave, connections drop) →
 * destroying (the swarm is torn down) → closed. Every close() call settles when the
 * networker is closed; calls after that settle at once.
 */
export interface LifeContext {
  waiting: RequestId[]
  report: CloseReport
}

export type LifeEvent =
  | { type: 'close'; requestId: RequestId }
  | { type: 'drained'; unannounced: string[] }
  | { type: 'swarm-destroyed' }
  /** The deadline passed: settle now and tear the swarm down without waiting. */
  | { type: 'force'; unannounced: string[]; destroySwarm: boolean }

export const lifeMachine = setup({
  types: {
    context: {} as LifeContext,
    events: {} as LifeEvent,
    emitted: {} as CoreEffect,
  },
  actions: {
    wait: assign({
      waiting: ({ context, event }) => {
        assertEvent(event, 'close')
        return [...context.waiting, event.requestId]
      },
    }),
    destroySwarm: emit({ type: 'destroy-swarm' }),
    recordDrained: assign({
      report: ({ event }) => {
        assertEvent(event, 'drained')
        return { unannounced: event.unannounced, forced: false }
      },
    }),
    force: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'force')
      enqueue.assign({ report: { unannounced: event.unannounced, forced: true } })
      if (event.destroySwarm) enqueue.emit({ type: 'destroy-swarm' })
    }),
    // Only ever followed by `closed`, which never reads `waiting` again.
    settleAll: enqueueActions(({ context, enqueue }) => {
      for (const requestId of context.waiting) {
        enqueue.emit({ type: 'settle', requestId, report: context.report })
      }
    }),
    settleNow: emit(({ context, event }) => {
      assertEvent(event, 'close')
      return { type: 'settle' as const, requestId: event.requestId, report: context.report }
    }),
  },
}).createMachine({
  id: 'life',
  context: { waiting: [], report: { unannounced: [], forced: false } },
  initial: 'open',
  states: {
    open: { on: { close: { actions: 'wait', target: 'closing' } } },
    closing: {
      on: {
        close: { actions: 'wait' },
        drained: { actions: ['recordDrained', 'destroySwarm'], target: 'destroying' },
        force: { actions: ['force', 'settleAll'], target: 'closed' },
      },
    },
    destroying: {
      on: {
        close: { actions: 'wait' },
        'swarm-destroyed': { actions: 'settleAll', target: 'closed' },
        force: { actions: ['force', 'settleAll'], target: 'closed' },
      },
    },
    closed: { on: { close: { actions: 'settleNow' } } },
  },
})
