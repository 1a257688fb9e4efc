import { assertEvent, assign, enqueueActions, setup } from 'xstate'
import { settleKeepsNew } from './dedup-rule.js'
import type { KeyHex } from './keys.js'
import type { ConnectionId, CoreEffect } from './protocol.js'

/**
 * One remote Noise key: at most one kept connection. A connection reaches this machine
 * once it is authenticated ("admitted").
 *
 * A second connection while the kept one is not yet active (it has not carried data both
 * ways) is settled at once by the larger-initiator-key rule, which both ends compute alike.
 * While the kept one is active, the newcomer is held as a candidate: it replaces the kept
 * one only when the remote proves it keeps the newcomer (its first data arrives on it), and
 * is dropped if it closes or stays silent past a deadline. That is Hyperswarm's "newer wins
 * when the older has carried data both ways", made safe for a late dial the remote already
 * dropped: acting on it at once would leave both ends with nothing.
 */
export interface ConnectionSlot {
  connectionId: ConnectionId
  isInitiator: boolean
  /** The remote has sent data on it. */
  remoteData: boolean
  /** Its Noise handshake hash (hex, equal at both ends), or null where the stream has none. */
  handshakeHash: string | null
}

export interface PeerContext {
  localKey: KeyHex
  remoteKey: KeyHex
  candidateTimeout: number
  kept: ConnectionSlot | null
  candidate: ConnectionSlot | null
}

export type PeerEvent =
  | {
      type: 'admit'
      connectionId: ConnectionId
      isInitiator: boolean
      remoteData: boolean
      handshakeHash: string | null
    }
  | { type: 'connection-data'; connectionId: ConnectionId }
  | { type: 'connection-closed'; connectionId: ConnectionId }
  | { type: 'close' }

const idOf = (event: PeerEvent): ConnectionId | null =>
  'connectionId' in event ? event.connectionId : null

// In `connected` there is always a kept connection, and in `contested` a candidate too.
const keptOf = (context: PeerContext): ConnectionSlot => context.kept as ConnectionSlot
const candidateOf = (context: PeerContext): ConnectionSlot => context.candidate as ConnectionSlot

const dropOf = (context: PeerContext, slot: ConnectionSlot) =>
  ({
    type: 'drop-connection',
    connectionId: slot.connectionId,
    remoteKey: context.remoteKey,
  }) as const

function slotOf(event: PeerEvent): ConnectionSlot {
  assertEvent(event, 'admit')
  const { connectionId, isInitiator, remoteData, handshakeHash } = event
  return { connectionId, isInitiator, remoteData, handshakeHash }
}

export const peerMachine = setup({
  types: {
    context: {} as PeerContext,
    events: {} as PeerEvent,
    input: {} as { localKey: KeyHex; remoteKey: KeyHex; candidateTimeout: number },
    emitted: {} as CoreEffect,
  },
  delays: {
    candidateTimeout: ({ context }) => context.candidateTimeout,
  },
  guards: {
    // Events carry any connection to this key, dropped duplicates included: only the
    // kept one and the candidate count.
    isKept: ({ context, event }) => keptOf(context).connectionId === idOf(event),
    isCandidate: ({ context, event }) => candidateOf(context).connectionId === idOf(event),
    keptIsActive: ({ context }) => keptOf(context).remoteData,
    // Only asked when the kept connection is not active, so the key decides (or, for two
    // connections one end dialed, their handshake hashes: see dedup-rule.ts).
    keyRuleKeepsNew: ({ context, event }) => {
      assertEvent(event, 'admit')
      return settleKeepsNew(keptOf(context), event, context.localKey, context.remoteKey)
    },
  },
  actions: {
    keepIncoming: enqueueActions(({ context, event, enqueue }) => {
      const slot = slotOf(event)
      const { remoteKey } = context
      enqueue.emit({ type: 'keep-connection', connectionId: slot.connectionId, remoteKey })
      enqueue.emit({ type: 'peer-add', connectionId: slot.connectionId, remoteKey })
      enqueue.assign({ kept: slot })
    }),
    promoteCandidate: enqueueActions(({ context, enqueue }) => {
      const slot = candidateOf(context)
      const { remoteKey } = context
      enqueue.emit({ type: 'keep-connection', connectionId: slot.connectionId, remoteKey })
      enqueue.emit({ type: 'peer-add', connectionId: slot.connectionId, remoteKey })
      enqueue.assign({ kept: slot, candidate: null })
    }),
    // peer-remove before the replacement's peer-add: they alternate per remote key.
    // Replaced by a newer connection (a close drops the kept one with dropKeptForClose).
    dropKept: enqueueActions(({ context, enqueue }) => {
      const old = keptOf(context)
      enqueue.emit({ ...dropOf(context, old), reason: 'duplicate' })
      enqueue.emit({
        type: 'peer-remove',
        connectionId: old.connectionId,
        remoteKey: context.remoteKey,
      })
      enqueue.assign({ kept: null })
    }),
    // Replaced by a newer candidate, or silent past its deadline.
    dropCandidate: enqueueActions(({ context, enqueue }) => {
      const old = context.candidate
      if (old === null) return
      enqueue.emit({ ...dropOf(context, old), reason: 'duplicate' })
      enqueue.assign({ candidate: null })
    }),
    dropCandidateForClose: enqueueActions(({ context, enqueue }) => {
      enqueue.emit({ ...dropOf(context, candidateOf(context)), reason: 'closing' })
      enqueue.assign({ candidate: null })
    }),
    holdCandidate: assign({ candidate: ({ event }) => slotOf(event) }),
    dropIncoming: enqueueActions(({ context, event, enqueue }) => {
      enqueue.emit({ ...dropOf(context, slotOf(event)), reason: 'duplicate' })
    }),
    markCandidateData: assign({
      candidate: ({ context }) => ({ ...candidateOf(context), remoteData: true }),
    }),
    markKeptData: assign({ kept: ({ context }) => ({ ...keptOf(context), remoteData: true }) }),
    forgetKept: enqueueActions(({ context, enqueue }) => {
      enqueue.emit({
        type: 'peer-remove',
        connectionId: keptOf(context).connectionId,
        remoteKey: context.remoteKey,
      })
      enqueue.assign({ kept: null })
    }),
    forgetCandidate: assign({ candidate: null }),
    dropKeptForClose: enqueueActions(({ context, enqueue }) => {
      enqueue.emit({ ...dropOf(context, keptOf(context)), reason: 'closing' })
    }),
  },
}).createMachine({
  id: 'peer',
  context: ({ input }) => ({
    localKey: input.localKey,
    remoteKey: input.remoteKey,
    candidateTimeout: input.candidateTimeout,
    kept: null,
    candidate: null,
  }),
  // The networker admits no connection once it closes, and forgets a peer as soon as it is
  // idle again, so neither state sees an admit while closing nor an idle peer a close.
  initial: 'idle',
  states: {
    idle: {
      on: { admit: { actions: 'keepIncoming', target: 'connected' } },
    },
    connected: {
      on: {
        admit: [
          {
            guard: 'keptIsActive',
            actions: ['dropCandidate', 'holdCandidate'],
            target: '.contested',
          },
          { guard: 'keyRuleKeepsNew', actions: ['dropKept', 'keepIncoming'] },
          { actions: 'dropIncoming' },
        ],
        'connection-data': { guard: 'isKept', actions: 'markKeptData' },
        // The peer stays listed until its connection has really closed, even while closing.
        'connection-closed': { guard: 'isKept', actions: 'forgetKept', target: 'idle' },
        close: { actions: 'dropKeptForClose' },
      },
      initial: 'settled',
      states: {
        settled: {},
        contested: {
          always: {
            guard: ({ context }) => candidateOf(context).remoteData,
            actions: ['dropKept', 'promoteCandidate'],
            target: 'settled',
          },
          after: { candidateTimeout: { actions: 'dropCandidate', target: 'settled' } },
          on: {
            // Data on the kept one falls through to `connected`.
            'connection-data': {
              guard: 'isCandidate',
              // Promoted as active: a later duplicate is contested, not settled by key.
              actions: ['markCandidateData', 'dropKept', 'promoteCandidate'],
              target: 'settled',
            },
            'connection-closed': [
              { guard: 'isCandidate', actions: 'forgetCandidate', target: 'settled' },
              {
                guard: 'isKept',
                actions: ['forgetKept', 'promoteCandidate'],
                target: 'settled',
              },
            ],
            close: {
              actions: ['dropCandidateForClose', 'dropKeptForClose'],
              target: 'settled',
            },
          },
        },
      },
    },
  },
})
