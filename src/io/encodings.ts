import b4a from 'b4a'
import c from 'compact-encoding'
import { ErrorCode, NetworkerError } from '../core/errors.js'

/** A compact-encoding codec, as Hypercore and Protomux use them. */
export interface Codec<T = unknown> {
  preencode(state: { start: number; end: number; buffer: Uint8Array | null }, value: T): void
  encode(state: { start: number; end: number; buffer: Uint8Array | null }, value: T): void
  decode(state: { start: number; end: number; buffer: Uint8Array | null }): T
}

export type EncodingName = 'binary' | 'utf8' | 'json'
export type EncodingOption = EncodingName | Codec

/** Turns messages into bytes and back; `decode` throws on bytes it cannot read. */
export interface MessageEncoding {
  encode(value: unknown): Uint8Array
  decode(bytes: Uint8Array): unknown
}

const binary: MessageEncoding = {
  encode(value) {
    if (value instanceof Uint8Array) return value
    if (typeof value === 'string') return b4a.from(value)
    throw new TypeError(
      `binary messages must be a Buffer/Uint8Array or string, got ${typeof value}`,
    )
  },
  decode: (bytes) => bytes,
}

const decoder = new TextDecoder('utf-8', { fatal: true })

const utf8: MessageEncoding = {
  encode(value) {
    if (typeof value !== 'string')
      throw new TypeError(`utf8 messages must be strings, got ${typeof value}`)
    return b4a.from(value, 'utf8')
  },
  decode: (bytes) => decoder.decode(bytes),
}

const json: MessageEncoding = {
  encode(value) {
    const text = JSON.stringify(value)
    if (text === undefined) throw new TypeError('json messages must be JSON-serialisable')
    return b4a.from(text, 'utf8')
  },
  decode: (bytes) => JSON.parse(decoder.decode(bytes)) as unknown,
}

function fromCodec(codec: Codec): MessageEncoding {
  return {
    encode: (value) => c.encode(codec as never, value) as Uint8Array,
    decode(bytes) {
      const state = { start: 0, end: bytes.byteLength, buffer: bytes }
      const value = codec.decode(state)
      // Trailing bytes mean the sender used another codec: report rather than guess.
      if (state.start !== state.end)
        throw new RangeError(`${state.end - state.start} unread trailing bytes`)
      return value
    },
  }
}

export function resolveEncoding(option: unknown): MessageEncoding {
  if (option === undefined || option === 'binary') return binary
  if (option === 'utf8' || option === 'utf-8') return utf8
  if (option === 'json') return json
  if (isCodec(option)) return fromCodec(option)
  throw new NetworkerError(
    ErrorCode.UNKNOWN_ENCODING,
    `unknown encoding ${typeof option === 'string' ? `'${option}'` : typeof option}: use 'binary', 'utf8', 'json' or a compact-encoding codec`,
  )
}

function isCodec(value: unknown): value is Codec {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return (
    typeof v.preencode === 'function' &&
    typeof v.encode === 'function' &&
    typeof v.decode === 'function'
  )
}
