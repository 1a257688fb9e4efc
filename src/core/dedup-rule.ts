import { compareKeys, type KeyHex } from './keys.js'

export interface ConnectionFacts {
  isInitiator: boolean
  /** Has carried data both ways. */
  active: boolean
  /** The Noise handshake hash (hex), equal at both ends; absent where the stream has none. */
  handshakeHash?: string | null
}

/**
 * Hyperswarm's duplicate rule, computed alike at both ends: keep the new connection if the
 * existing one has already carried data both ways (the other side must have lost it and be
 * reconnecting), else keep the one whose initiator has the larger public key (two dialed by
 * the same end: the larger handshake hash, see settleKeepsNew).
 */
export function keepNewConnection(
  existing: ConnectionFacts,
  incoming: ConnectionFacts,
  localKey: KeyHex,
  remoteKey: KeyHex,
): boolean {
  if (existing.active) return true
  return settleKeepsNew(existing, incoming, localKey, remoteKey)
}

/**
 * The static order of connections, the same at both ends: whether `incoming` ranks above
 * `existing`. It settles two connections neither of which the remote is known to keep, and
 * tells whether a held candidate's data proves the remote keeps it (peer-machine.ts). Two
 * connections dialed by different ends: the key rule. Two dialed by the same end — possible
 * once a key can be reached over several transports (a direct TCP dial while the swarm dials
 * over UDX) — cannot be told apart by the key rule: it would keep whichever arrived second
 * (or first) at both ends, and the two ends may see them arrive in opposite orders, each then
 * keeping the one the other dropped. Their Noise handshake hashes, equal at both ends and
 * different between connections, order them alike at both ends: the larger is kept.
 */
export function settleKeepsNew(
  existing: Pick<ConnectionFacts, 'isInitiator' | 'handshakeHash'>,
  incoming: Pick<ConnectionFacts, 'isInitiator' | 'handshakeHash'>,
  localKey: KeyHex,
  remoteKey: KeyHex,
): boolean {
  const a = existing.handshakeHash
  const b = incoming.handshakeHash
  if (existing.isInitiator === incoming.isInitiator && a && b && a !== b) return b > a
  return keyRuleKeepsNew(incoming.isInitiator, localKey, remoteKey)
}

/** The key half of the rule alone: keep the connection the larger key initiated. */
export function keyRuleKeepsNew(
  incomingIsInitiator: boolean,
  localKey: KeyHex,
  remoteKey: KeyHex,
): boolean {
  const localIsExpectedInitiator = compareKeys(localKey, remoteKey) > 0
  return localIsExpectedInitiator === incomingIsInitiator
}
