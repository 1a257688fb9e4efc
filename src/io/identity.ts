import type { KeyPair } from './swarm.js'

/** The name of the key pair a persisting networker derives from its store. */
export const IDENTITY_KEY_PAIR_NAME = 'chainstore-networker/identity'

interface KeyPairSource {
  createKeyPair(name: string): Promise<KeyPair>
}

function isKeyPairSource(store: unknown): store is KeyPairSource {
  return (
    typeof store === 'object' &&
    store !== null &&
    typeof (store as Partial<KeyPairSource>).createKeyPair === 'function'
  )
}

/**
 * A persisting networker keeps one identity across restarts, so peers recognise it and
 * the announcements of its earlier lives point at its own key (Hyperswarm never dials
 * itself) rather than at dead strangers. That holds unless the caller chose the identity
 * (`keyPair`, or a `swarm` with its own) or the store cannot derive key pairs.
 */
export function wantsDerivedIdentity(
  store: unknown,
  opts: { persist?: unknown; keyPair?: unknown; swarm?: unknown },
): boolean {
  return (
    opts.persist !== undefined &&
    opts.persist !== false &&
    opts.keyPair === undefined &&
    opts.swarm === undefined &&
    isKeyPairSource(store)
  )
}

/** Corestore derives named key pairs from its primary key, stored with the cores. */
export async function deriveKeyPair(store: unknown): Promise<KeyPair> {
  if (!isKeyPairSource(store)) throw new Error('the store cannot derive key pairs')
  const keyPair = await store.createKeyPair(IDENTITY_KEY_PAIR_NAME)
  return { publicKey: keyPair.publicKey, secretKey: keyPair.secretKey }
}
