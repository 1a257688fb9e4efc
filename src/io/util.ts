import b4a from 'b4a'
import type { KeyHex } from '../core/keys.js'

/**
 * The small helpers the face and the I/O layer share, one copy each. Most deal with what
 * user code and libraries hand back: errors that may not be Errors, results that may be
 * promises. (The core has its own pure helpers in src/core; the core never imports this.)
 */

/**
 * Bytes as lower-case hex: the same string as the core's `bytesToHex`, made by Node. Keys are
 * converted on every connection, in code that runs too seldom to be optimised, where the
 * core's pure table loop is many times slower than one native call (the core keeps its own).
 */
export function hexOf(bytes: Uint8Array): KeyHex {
  return b4a.toString(bytes, 'hex')
}

/** Hex (a key the core made) as bytes, made by Node: see `hexOf`. */
export function bytesOf(hex: KeyHex): Buffer {
  return b4a.from(hex, 'hex')
}

/** Does nothing: for `.catch(noop)` and listeners that only keep an error from being uncaught. */
export function noop(): void {}

/** The message of anything thrown, whether an Error or not. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** Anything thrown, as an Error (a thrown string or object becomes the message). */
export function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason))
}

/** Whether a user callback returned a promise (or any thenable) rather than a value. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

/** Throws `err` on a turn of its own: an uncaught exception that leaves our state as it is. */
export function rethrowLater(err: unknown): void {
  queueMicrotask(() => {
    throw err
  })
}

/**
 * Runs a Protomux callback of ours. Protomux destroys the whole connection when a callback
 * throws. Nothing of ours should throw (user code is contained by Extension), but should it,
 * the error is re-thrown on its own turn instead of costing the connection.
 */
export function guard(run: () => void): void {
  guardCall(run, undefined, undefined, undefined)
}

/**
 * `guard` for a function and its three arguments: a channel's shared handlers hand on each
 * message this way, with no closure made per message.
 */
export function guardCall<A, B, C>(fn: (a: A, b: B, c: C) => void, a: A, b: B, c: C): void {
  try {
    fn(a, b, c)
  } catch (err) {
    rethrowLater(err)
  }
}

/** No bytes: what a channel's close or drain hands on. Shared, never written to. */
export const NO_BYTES = new Uint8Array(0)
