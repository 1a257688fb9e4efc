import b4a from 'b4a'
import c from 'compact-encoding'
import type { Encoding } from 'protomux'
import { messageOf } from './util.js'

/**
 * One Protomux channel per connection carries every extension. A new protocol name (the
 * previous releases opened one `chainstore-networker/extension` channel per extension), so
 * old and new peers never mix: each sees the other as a peer without extensions.
 */
export const EXTENSIONS_PROTOCOL = 'chainstore-networker/extensions'
/** Sent first in the handshake; later versions may append fields, which this one ignores. */
export const WIRE_VERSION = 1
/** Longest extension name (UTF-8 bytes), here and from a remote. */
export const MAX_NAME_BYTES = 1024
/** Most names one remote may have announced at once: bounds what we keep per connection. */
export const MAX_REMOTE_NAMES = 1024

/** Message types on the channel, in the order they are added to it. */
export const MESSAGE_ADD = 0
export const MESSAGE_REMOVE = 1
export const MESSAGE_DATA = 2

/** A registration as the wire names it: the sender's own small id for one extension name. */
export interface Announced {
  id: number
  name: string
}

/** Bytes the remote sent that do not parse, or break a bound. */
export class WireError extends Error {}

/**
 * Handshake: `uint version, uint count, count × (uint id, string name)`. Encoded and decoded
 * here rather than through Protomux, whose decode errors destroy the whole connection.
 */
export function encodeHello(list: readonly Announced[]): Uint8Array {
  const state = { start: 0, end: 0, buffer: null as Uint8Array | null }
  c.uint.preencode(state, WIRE_VERSION)
  c.uint.preencode(state, list.length)
  for (const { id, name } of list) {
    c.uint.preencode(state, id)
    c.string.preencode(state, name)
  }
  state.buffer = b4a.allocUnsafe(state.end)
  c.uint.encode(state, WIRE_VERSION)
  c.uint.encode(state, list.length)
  for (const { id, name } of list) {
    c.uint.encode(state, id)
    c.string.encode(state, name)
  }
  return state.buffer
}

export function decodeHello(bytes: Uint8Array): Announced[] {
  const state = stateOf(bytes)
  return guarded(() => {
    const version = c.uint.decode(state)
    if (version < 1) throw new WireError(`handshake version ${version}`)
    const count = c.uint.decode(state)
    if (count > MAX_REMOTE_NAMES) {
      throw new WireError(`${count} extension names (at most ${MAX_REMOTE_NAMES})`)
    }
    const list: Announced[] = []
    for (let i = 0; i < count; i++) list.push(readAnnounced(state))
    return list
  })
}

/** `add`: `uint id, string name`. */
export function encodeAdd({ id, name }: Announced): Uint8Array {
  const state = { start: 0, end: 0, buffer: null as Uint8Array | null }
  c.uint.preencode(state, id)
  c.string.preencode(state, name)
  state.buffer = b4a.allocUnsafe(state.end)
  c.uint.encode(state, id)
  c.string.encode(state, name)
  return state.buffer
}

export function decodeAdd(bytes: Uint8Array): Announced {
  const state = stateOf(bytes)
  return guarded(() => readAnnounced(state))
}

/** `remove`: `uint id`. */
export function encodeRemove(id: number): Uint8Array {
  return c.encode(c.uint, id)
}

export function decodeRemove(bytes: Uint8Array): number {
  const state = stateOf(bytes)
  return guarded(() => c.uint.decode(state))
}

/** What `data` carries: the sender's id for the extension, then the message bytes as they are. */
export interface DataFrame {
  id: number
  bytes: Uint8Array
}

/**
 * `data`: `uint id` then the payload to the end of the frame (no length: Protomux frames
 * it). Encoding writes straight into Protomux's frame, so a message is copied once, as with
 * a raw channel; decoding hands back the frame's bytes for `splitData` to read safely.
 */
export const dataEncoding: Encoding<DataFrame | Uint8Array> = {
  preencode(state, frame) {
    const { id, bytes } = frame as DataFrame
    c.uint.preencode(state as never, id)
    ;(state as { end: number }).end += bytes.byteLength
  },
  encode(state, frame) {
    const { id, bytes } = frame as DataFrame
    const s = state as { start: number; buffer: Uint8Array }
    c.uint.encode(s as never, id)
    s.buffer.set(bytes, s.start)
    s.start += bytes.byteLength
  },
  decode: (state) => c.raw.decode(state as never) as Uint8Array,
}

export function splitData(frame: Uint8Array): DataFrame {
  const state = stateOf(frame)
  return guarded(() => {
    const id = c.uint.decode(state)
    return { id, bytes: frame.subarray(state.start) }
  })
}

/** Every other message is raw bytes, decoded by the functions above. */
export const rawEncoding = c.raw as Encoding<Uint8Array>

export function nameBytes(name: string): number {
  return b4a.from(name, 'utf8').byteLength
}

function readAnnounced(state: ReturnType<typeof stateOf>): Announced {
  const id = c.uint.decode(state)
  const name = c.string.decode(state)
  if (name.length === 0) throw new WireError('an empty extension name')
  if (nameBytes(name) > MAX_NAME_BYTES) {
    throw new WireError(`an extension name over ${MAX_NAME_BYTES} bytes`)
  }
  return { id, name }
}

function stateOf(bytes: Uint8Array): { start: number; end: number; buffer: Uint8Array } {
  return { start: 0, end: bytes.byteLength, buffer: bytes }
}

/** Runs a decoder, turning whatever it throws (compact-encoding's "Out of bounds") into a WireError. */
function guarded<T>(decode: () => T): T {
  try {
    return decode()
  } catch (err) {
    if (err instanceof WireError) throw err
    throw new WireError(messageOf(err))
  }
}
