import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import sodium from 'sodium-universal'

/**
 * The proof that one end of a connection has joined a topic, built the way Hypercore proves
 * it knows a core's key (`caps.replicate` in hypercore's lib/caps.js):
 *
 *   proof = BLAKE2b-256(key = handshakeHash, message = NS[role] ‖ discoveryKey)
 *
 * `handshakeHash` is the connection's Noise handshake hash (64 bytes, the same at both ends
 * and different on every connection), `role` the prover's: 0 when it initiated the
 * connection, 1 when it accepted it, and `NS = hypercore-crypto.namespace(
 * 'chainstore-networker/topic-proof', 2)` (BLAKE2b-256 of the name, then BLAKE2b-256 of that
 * hash followed by the index byte). A receiver that has joined the topic computes the same
 * value for the other end's role and compares; one that has not learns nothing (it would
 * have to guess the discovery key). Bound to the handshake, a proof replayed on another
 * connection matches nothing there; bound to the role, a proof reflected back to its sender
 * matches nothing either, as the sender expects the other role's proof.
 */
const [PROVE_INITIATOR, PROVE_RESPONDER] = crypto.namespace('chainstore-networker/topic-proof', 2)

export const PROOF_BYTES = 32

/**
 * `NS[role] ‖ discoveryKey` for a 32-byte key, laid out in one reused buffer (hashing is
 * synchronous): one BLAKE2b call over it is the hash of the parts in turn, what the batch call
 * computes, without the array and the batch's per-part calls. Two proofs are made per topic
 * on every connection.
 */
const MESSAGE = b4a.alloc(64)

export function proveTopic(
  discoveryKey: Uint8Array,
  handshakeHash: Uint8Array,
  proverIsInitiator: boolean,
): Buffer {
  const out = b4a.allocUnsafe(PROOF_BYTES)
  const ns = (proverIsInitiator ? PROVE_INITIATOR : PROVE_RESPONDER) as Buffer
  if (discoveryKey.byteLength !== 32) {
    sodium.crypto_generichash_batch(out, [ns, discoveryKey], handshakeHash)
    return out
  }
  MESSAGE.set(ns, 0)
  MESSAGE.set(discoveryKey, 32)
  sodium.crypto_generichash(out, MESSAGE, handshakeHash)
  return out
}

/**
 * `proveTopic` for a topic given as its 64-character hex (a claimed topic's key): written
 * straight into the message, so a proof made again, as each is when it is sent, decodes and
 * keeps no copy of the key. Into `out` if given: a proof only compared or looked up is made
 * into one reused buffer, not a new one each time.
 */
export function proveTopicHex(
  topic: string,
  handshakeHash: Uint8Array,
  proverIsInitiator: boolean,
  out: Buffer = b4a.allocUnsafe(PROOF_BYTES),
): Buffer {
  // Anything but 32 bytes of hex (never a claimed topic's key) goes the general way.
  if (topic.length !== 64 || MESSAGE.write(topic, 32, 32, 'hex') !== 32) {
    out.set(proveTopic(b4a.from(topic, 'hex'), handshakeHash, proverIsInitiator))
    return out
  }
  MESSAGE.set((proverIsInitiator ? PROVE_INITIATOR : PROVE_RESPONDER) as Buffer, 0)
  sodium.crypto_generichash(out, MESSAGE, handshakeHash)
  return out
}
