import { ErrorCode, NetworkerError } from '../core/errors.js'
import { describe, hexToBytes, publicKeyToHex } from '../core/keys.js'
import type { AdoptOptions } from './adopt.js'

/*
 * What `adopt` and the direct TCP calls are given, and the checks on it: a mistake throws
 * INVALID_OPTION (or INVALID_PUBLIC_KEY) at the call, as every option check does.
 */

/** What `adopt(stream, opts)` is given: `initiator` (a boolean), `type` and `publicKey` optional. */
export interface AdoptCallOptions {
  /** This end starts the Noise handshake; the other end must say false. */
  initiator: boolean
  /** The transport's name in `peer.type` (default `'stream'`; a TCP socket is always `'tcp'`). */
  type?: string
  /** The remote key expected (32 bytes or hex); another one is closed with REMOTE_KEY_MISMATCH. */
  publicKey?: Uint8Array | string
}

/** adopt's options, checked: a mistake throws INVALID_OPTION (or INVALID_PUBLIC_KEY) at the call. */
export function adoptOptionsOf(opts: unknown): AdoptOptions {
  if (typeof opts !== 'object' || opts === null) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `adopt options must be an object with initiator, got ${describe(opts)}`,
    )
  }
  const o = opts as Partial<AdoptCallOptions>
  if (typeof o.initiator !== 'boolean') {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `adopt option initiator must be a boolean, got ${describe(o.initiator)}`,
    )
  }
  if (o.type !== undefined && (typeof o.type !== 'string' || o.type.length === 0)) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `adopt option type must be a non-empty string, got ${describe(o.type)}`,
    )
  }
  return {
    initiator: o.initiator,
    ...(o.type === undefined ? {} : { type: o.type }),
    ...(o.publicKey === undefined ? {} : { publicKey: publicKeyOf(o.publicKey) }),
  }
}

/** A remote key option (32 bytes or 64 hex characters), as bytes. */
export function publicKeyOf(value: unknown): Uint8Array {
  return hexToBytes(publicKeyToHex(value, 'publicKey'))
}
