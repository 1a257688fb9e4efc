import { assign, enqueueActions, setup } from 'xstate'
import { assertEvent } from './assert-event.js'
import { settleKeepsNew } from './dedup-rule.js'
import type { KeyHex } from './keys.js'
import type { ConnectionId, CoreEffect } from './protocol.js'

/**
 * One remote Noise key: at most one kept connection. A connection reaches this machine
 * once it is authenticated ("admitted").
 *
 * A second connection while the kept one is not yet active (the remote has not written on
 * it) is settled at once by the static order of dedup-rule.ts (`settleKeepsNew`), which both
 * ends compute alike. While the kept one is active, the newcomer is held as a candidate: the
 * remote may have lost the kept one and be reconnecting (Hyperswarm's "newer wins when the
 * older has carried data"), or it may be a late or crossed dial the remote drops.
 *
 * What the candidate's data proves is only that the remote kept it at some point: data it
 * wrote before switching away still arrives after the switch, ahead of the close. So data
 * promotes a candidate at once only when the static order prefers it to the kept one too: the
 * remote leaves a kept connection for a lower-ranked one only when the one it leaves is active
 * there (it carried our data), and a candidate of ours never carried our data. A candidate
 * that carried data but ranks lower waits for its close (the remote moved on), the kept one's
 * close (the remote dropped that), or the deadline, which promotes it: the remote still keeps
 * it after a whole deadline, so the kept one is what it lost (a silent candidate is dropped
 * then). Between two candidates, the static order keeps one, as the remote decides between
 * them. test/core/dedup-in-flight.test.ts explores every interleaving with data in flight.
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
    // A newcomer while contested: the static order picks one of it and the candidate.
    outranksCandidate: ({ context, event }) => {
      assertEvent(event, 'admit')
      return settleKeepsNew(candidateOf(context), event, context.localKey, context.remoteKey)
    },
    candidateCarriedData: ({ context }) => candidateOf(context).remoteData,
    // The remote kept the candidate and cannot have left it for the lower-ranked kept one.
    candidateWins: ({ context }) => {
      const candidate = candidateOf(context)
      const { localKey, remoteKey } = context
      return candidate.remoteData && settleKeepsNew(keptOf(context), candidate, localKey, remoteKey)
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
    // Outranked by a newer candidate, or silent past its deadline.
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
          // Only from `settled`: `contested` takes its own admits.
          { guard: 'keptIsActive', actions: 'holdCandidate', target: '.contested' },
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
          // Promoted as active: a later duplicate is contested, not settled by key.
          always: {
            guard: 'candidateWins',
            actions: ['dropKept', 'promoteCandidate'],
            target: 'settled',
          },
          after: {
            candidateTimeout: [
              {
                guard: 'candidateCarriedData',
                actions: ['dropKept', 'promoteCandidate'],
                target: 'settled',
              },
              { actions: 'dropCandidate', target: 'settled' },
            ],
          },
          on: {
            // The loser of the two is dropped; a new candidate gets a whole deadline.
            admit: [
              {
                guard: 'outranksCandidate',
                actions: ['dropCandidate', 'holdCandidate'],
                target: 'contested',
                reenter: true,
              },
              { actions: 'dropIncoming' },
            ],
            // Data on the kept one falls through to `connected`; on the candidate it is
            // noted, and `always` promotes it if the static order agrees.
            'connection-data': { guard: 'isCandidate', actions: 'markCandidateData' },
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
