import b4a from 'b4a'
import c from 'compact-encoding'
import { PROOF_BYTES } from './topic-proof-crypto.js'
import { messageOf } from './util.js'

/**
 * The topics channel: one Protomux channel per kept connection between two networkers,
 * beside replication and extensions, on which each end proves the topics it has joined
 * (see topic-proof-crypto.ts) and withdraws them when it leaves. It is opened by the first
 * end with a topic to prove, and answered by the other, topics or not. A peer without it
 * (an older networker, plain Hyperswarm) refuses the channel, and what Hyperswarm's lookups
 * found stands in for its proofs.
 *
 * Every message is raw bytes parsed here: Protomux destroys the connection when its own
 * decoding fails, and a malformed proof must never cost the connection.
 *
 *   handshake  uint version (1), uint flags, uint count, count × fixed32 proof
 *   prove      uint flags, uint count, count × fixed32 proof
 *   withdraw   uint count, count × fixed32 proof
 *   flags      uint flags
 *
 * Handshake and `flags` flags: bit 0, the sender accepts direct connections to its key (it
 * listens: it announces a topic), so the other end may dial it to reconnect. `prove` flags:
 * bit 0, answer each proof that newly matches one of your topics with your own proof of it
 * (sent for topics joined after the connection opened: the other end may have discarded
 * our earlier proof of a topic it had not joined yet). Answers never ask for answers.
 * Later versions may append fields; this one ignores what follows.
 */
export const TOPICS_PROTOCOL = 'chainstore-networker/topics'
export const TOPICS_WIRE_VERSION = 1
/** Most proofs in one message (32 KiB of them): more is malformed. */
export const MAX_PROOFS_PER_MESSAGE = 1024

export const FLAG_LISTENING = 1
export const FLAG_ANSWER_ME = 1

export interface Hello {
  version: number
  flags: number
  proofs: Uint8Array[]
}

export interface Prove {
  flags: number
  proofs: Uint8Array[]
}

/** Bytes the remote sent that do not parse, or break a bound. */
export class TopicWireError extends Error {}

export function encodeHello(flags: number, proofs: readonly Uint8Array[]): Uint8Array {
  return encodeWith([TOPICS_WIRE_VERSION, flags], proofs)
}

export function decodeHello(bytes: Uint8Array): Hello {
  const state = stateOf(bytes)
  return guarded(() => {
    const version = c.uint.decode(state)
    if (version < 1) throw new TopicWireError(`handshake version ${version}`)
    const flags = c.uint.decode(state)
    return { version, flags, proofs: readProofs(state) }
  })
}

export function encodeProve(flags: number, proofs: readonly Uint8Array[]): Uint8Array {
  return encodeWith([flags], proofs)
}

export function decodeProve(bytes: Uint8Array): Prove {
  const state = stateOf(bytes)
  return guarded(() => {
    const flags = c.uint.decode(state)
    return { flags, proofs: readProofs(state) }
  })
}

export function encodeWithdraw(proofs: readonly Uint8Array[]): Uint8Array {
  return encodeWith([], proofs)
}

export function decodeWithdraw(bytes: Uint8Array): Uint8Array[] {
  const state = stateOf(bytes)
  return guarded(() => readProofs(state))
}

export function encodeFlags(flags: number): Uint8Array {
  return c.encode(c.uint, flags)
}

export function decodeFlags(bytes: Uint8Array): number {
  const state = stateOf(bytes)
  return guarded(() => c.uint.decode(state))
}

/** Splits proofs into message-sized batches, in order. */
export function batches(proofs: readonly Uint8Array[]): Uint8Array[][] {
  const out: Uint8Array[][] = []
  for (let i = 0; i < proofs.length; i += MAX_PROOFS_PER_MESSAGE) {
    out.push(proofs.slice(i, i + MAX_PROOFS_PER_MESSAGE))
  }
  return out
}

type State = { start: number; end: number; buffer: Uint8Array }

function encodeWith(uints: readonly number[], proofs: readonly Uint8Array[]): Uint8Array {
  const state = { start: 0, end: 0, buffer: null as Uint8Array | null }
  for (const n of uints) c.uint.preencode(state, n)
  c.uint.preencode(state, proofs.length)
  state.end += proofs.length * PROOF_BYTES
  const buffer = b4a.allocUnsafe(state.end)
  state.buffer = buffer
  for (const n of uints) c.uint.encode(state, n)
  c.uint.encode(state, proofs.length)
  for (const proof of proofs) {
    buffer.set(proof, state.start)
    state.start += PROOF_BYTES
  }
  return buffer
}

/** `uint count, count × fixed32`; the proofs are views into the frame (copied by whoever keeps one). */
function readProofs(state: State): Uint8Array[] {
  const count = c.uint.decode(state)
  if (count > MAX_PROOFS_PER_MESSAGE) {
    throw new TopicWireError(`${count} proofs in one message (at most ${MAX_PROOFS_PER_MESSAGE})`)
  }
  if (state.end - state.start < count * PROOF_BYTES) {
    throw new TopicWireError(`${count} proofs announced, fewer sent`)
  }
  const proofs: Uint8Array[] = []
  for (let i = 0; i < count; i++) {
    proofs.push(state.buffer.subarray(state.start, state.start + PROOF_BYTES))
    state.start += PROOF_BYTES
  }
  return proofs
}

function stateOf(bytes: Uint8Array): State {
  return { start: 0, end: bytes.byteLength, buffer: bytes }
}

/** Runs a decoder, turning whatever it throws (compact-encoding's "Out of bounds") into a TopicWireError. */
function guarded<T>(decode: () => T): T {
  try {
    return decode()
  } catch (err) {
    if (err instanceof TopicWireError) throw err
    throw new TopicWireError(messageOf(err))
  }
}
