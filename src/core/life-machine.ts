import { assign, enqueueActions, setup } from 'xstate'
import type { CoreEffect, RequestId } from './protocol.js'

/**
 * The networker's own life: open → closing (topics leave, connections drop) →
 * destroying (the swarm is torn down) → closed. Every close() call settles when the
 * networker is closed; calls after that settle at once.
 */
export interface LifeContext {
  waiting: RequestId[]
}

export type LifeEvent =
  | { type: 'close'; requestId: RequestId }
  | { type: 'drained' }
  | { type: 'swarm-destroyed' }

export const lifeMachine = setup({
  types: {
    context: {} as LifeContext,
    events: {} as LifeEvent,
    emitted: {} as CoreEffect,
  },
  actions: {
    wait: assign({
      waiting: ({ context, event }) =>
        event.type === 'close' ? [...context.waiting, event.requestId] : context.waiting,
    }),
    destroySwarm: enqueueActions(({ enqueue }) => enqueue.emit({ type: 'destroy-swarm' })),
    settleAll: enqueueActions(({ context, enqueue }) => {
      for (const requestId of context.waiting) enqueue.emit({ type: 'settle', requestId })
      enqueue.assign({ waiting: [] })
    }),
    settleNow: enqueueActions(({ event, enqueue }) => {
      if (event.type === 'close') enqueue.emit({ type: 'settle', requestId: event.requestId })
    }),
  },
}).createMachine({
  id: 'life',
  context: { waiting: [] },
  initial: 'open',
  states: {
    open: { on: { close: { actions: 'wait', target: 'closing' } } },
    closing: {
      on: {
        close: { actions: 'wait' },
        drained: { actions: 'destroySwarm', target: 'destroying' },
      },
    },
    destroying: {
      on: {
        close: { actions: 'wait' },
        'swarm-destroyed': { actions: 'settleAll', target: 'closed' },
      },
    },
    closed: { on: { close: { actions: 'settleNow' } } },
  },
})
