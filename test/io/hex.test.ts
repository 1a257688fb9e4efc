import { describe, expect, it } from 'vitest'
import { bytesToHex, hexToBytes } from '../../src/core/keys.js'
import { bytesOf, hexOf } from '../../src/io/util.js'

/*
 * The I/O layer makes keys' hex natively (hexOf); the core makes it with its own pure table
 * (bytesToHex). Both must give the same string, or a key would be two keys.
 */

describe('hexOf and bytesOf', () => {
  it('gives the same lower-case hex as the core for Buffers, plain Uint8Arrays and views', () => {
    const bytes = Uint8Array.from({ length: 96 }, (_, i) => (i * 37 + 11) & 255)
    const cases: Uint8Array[] = [
      Buffer.from(bytes.subarray(0, 32)),
      bytes.subarray(0, 32),
      // A view into the middle of a larger buffer: its offset must be honoured.
      bytes.subarray(17, 49),
      // A handshake hash's 64 bytes.
      bytes.subarray(32, 96),
      new Uint8Array(0),
    ]
    for (const b of cases) {
      expect(hexOf(b)).toBe(bytesToHex(b))
      expect(hexOf(b)).toMatch(/^[0-9a-f]*$/)
    }
  })

  it('bytesOf gives back the bytes of the hex the core made, as the core would', () => {
    const bytes = Uint8Array.from({ length: 32 }, (_, i) => (i * 53 + 7) & 255)
    const hex = bytesToHex(bytes)
    expect(Buffer.isBuffer(bytesOf(hex))).toBe(true)
    expect(new Uint8Array(bytesOf(hex))).toEqual(hexToBytes(hex))
    expect(hexOf(bytesOf(hex))).toBe(hex)
  })
})
