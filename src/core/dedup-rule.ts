import { compareKeys, type KeyHex } from './keys.js'

export interface ConnectionFacts {
  isInitiator: boolean
  /** Has carried data both ways. */
  active: boolean
}

/**
 * Hyperswarm's duplicate rule, computed alike at both ends: keep the new connection if the
 * existing one has already carried data both ways (the other side must have lost it and be
 * reconnecting), else keep the one whose initiator has the larger public key.
 */
export function keepNewConnection(
  existing: ConnectionFacts,
  incoming: ConnectionFacts,
  localKey: KeyHex,
  remoteKey: KeyHex,
): boolean {
  if (existing.active) return true
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
