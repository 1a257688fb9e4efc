import { ErrorCode, NetworkerError } from './errors.js'

/** Keys inside the core are lower-case hex strings: comparable, usable as map keys, and pure. */
export type KeyHex = string

const HEX = /^[0-9a-fA-F]{64}$/

/**
 * Accepts a 32-byte Uint8Array (Buffer included) or a 64-character hex string and returns
 * lower-case hex. Anything else throws INVALID_DISCOVERY_KEY, naming what was wrong.
 */
export function discoveryKeyToHex(value: unknown, what = 'discovery key'): KeyHex {
  return keyToHex(value, what, ErrorCode.INVALID_DISCOVERY_KEY)
}

/** The same check for a remote Noise public key, with its own code. */
export function publicKeyToHex(value: unknown, what = 'public key'): KeyHex {
  return keyToHex(value, what, ErrorCode.INVALID_PUBLIC_KEY)
}

function keyToHex(value: unknown, what: string, code: ErrorCode): KeyHex {
  if (value instanceof Uint8Array) {
    if (value.byteLength !== 32) {
      throw new NetworkerError(code, `${what} must be 32 bytes, got ${value.byteLength}`)
    }
    return bytesToHex(value)
  }
  if (typeof value === 'string') {
    if (!HEX.test(value)) {
      throw new NetworkerError(
        code,
        `${what} must be 64 hex characters, got a string of length ${value.length}`,
      )
    }
    return value.toLowerCase()
  }
  throw new NetworkerError(
    code,
    `${what} must be a 32-byte Buffer/Uint8Array or a 64-character hex string, got ${describe(value)}`,
  )
}

// Keys are converted on every configure, notice and connection: by table, not by parsing.
// The character codes of each byte's two hex digits, at 2b and 2b + 1.
const HEX_CODES = new Uint16Array(512)
for (let b = 0; b < 256; b++) {
  const digits = b.toString(16).padStart(2, '0')
  HEX_CODES[2 * b] = digits.charCodeAt(0)
  HEX_CODES[2 * b + 1] = digits.charCodeAt(1)
}
/** Reused for every 32-byte key: the conversion allocates nothing but its string. */
const KEY_CODES = new Uint16Array(64)

/**
 * Made in one piece from character codes. Built with `+=` instead, the 64 characters of a
 * key would be kept as a tree of some 25 joined pieces (V8's cons strings), about 800 bytes
 * for every key held in a map, instead of one flat string of 80.
 */
export function bytesToHex(bytes: Uint8Array): KeyHex {
  const n = bytes.length
  const codes = n === 32 ? KEY_CODES : new Uint16Array(2 * n)
  for (let i = 0; i < n; i++) {
    const b = bytes[i] as number
    codes[2 * i] = HEX_CODES[2 * b] as number
    codes[2 * i + 1] = HEX_CODES[2 * b + 1] as number
  }
  // Spread would walk the array with an iterator, ten times slower.
  return String.fromCharCode.apply(null, codes as unknown as number[])
}

/** The value of a hex digit's character code ('0'–'9' are 48–57; `| 32` lower-cases a letter). */
function nibble(code: number): number {
  return code <= 57 ? code - 48 : (code | 32) - 87
}

export function hexToBytes(hex: KeyHex): Uint8Array {
  const out = new Uint8Array(hex.length >> 1)
  for (let i = 0; i < out.length; i++) {
    out[i] = (nibble(hex.charCodeAt(2 * i)) << 4) | nibble(hex.charCodeAt(2 * i + 1))
  }
  return out
}

/** Byte order of equal-length lower-case hex strings equals their string order. */
export function compareKeys(a: KeyHex, b: KeyHex): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`
  return typeof value === 'object' ? 'an object' : `${typeof value}`
}
