import b4a from 'b4a'
import { expect } from 'vitest'
import { NetworkerError, type NetworkerPeer } from '../../src/index.js'

export const hex = (b: Uint8Array): string => b4a.toString(b as Buffer, 'hex')

export const keysOf = (peers: Iterable<NetworkerPeer>): string[] =>
  [...peers].map((p) => hex(p.remotePublicKey)).sort()

/** The code a promise rejects with ('resolved' if it does not); anything but a NetworkerError fails. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'resolved'
  } catch (err) {
    expect(err).toBeInstanceOf(NetworkerError)
    return (err as NetworkerError).code
  }
}
