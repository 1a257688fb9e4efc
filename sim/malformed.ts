import b4a from 'b4a'

/** Sent through the strict extension, this value goes out as bytes no receiver can decode. */
export const MALFORMED = Symbol('malformed')
const fatal = new TextDecoder('utf-8', { fatal: true })
const bytesOf = (v: unknown): Uint8Array =>
  v === MALFORMED ? b4a.from([0x7b, 0xff, 0x00]) : b4a.from(JSON.stringify(v) ?? 'null')

/** JSON over compact-encoding, except that MALFORMED encodes to invalid UTF-8. */
export const strictCodec = {
  preencode(state: { end: number }, v: unknown) {
    state.end += bytesOf(v).byteLength
  },
  encode(state: { start: number; buffer: Uint8Array | null }, v: unknown) {
    const b = bytesOf(v)
    state.buffer?.set(b, state.start)
    state.start += b.byteLength
  },
  decode(state: { start: number; end: number; buffer: Uint8Array | null }): unknown {
    const b = (state.buffer ?? new Uint8Array()).subarray(state.start, state.end)
    state.start = state.end
    return JSON.parse(fatal.decode(b))
  },
}
