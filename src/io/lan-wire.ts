import b4a from 'b4a'
import sodium from 'sodium-universal'
import { bytesToHex, hexToBytes } from '../core/keys.js'

/*
 * What LAN discovery puts on the wire, and the keyed hashes that keep it from naming a topic.
 * Everyone on the LAN sees every query and answer, so neither may carry the discovery key:
 *
 *   label(dk, epoch) = hex(BLAKE2b-128(key = dk, LABEL_CONTEXT ‖ u32be(epoch)))
 *   query            = TXT? <label>._chainstore._tcp.local
 *   answer           = TXT  <label>._chainstore._tcp.local  "v=1" "k=<key hex>" "p=<port>" "m=<mac hex>"
 *   mac              = BLAKE2b-256(key = dk, MAC_CONTEXT ‖ label ‖ key ‖ u16be(port))
 *
 * Only a holder of the discovery key can compute a label, so a listener learns at most that
 * some hosts share some topic. The epoch is the wall-clock time in EPOCH_MS buckets: labels
 * change every bucket, so one topic cannot be followed across days by its label. The MAC binds
 * the answerer's key and port to the label under the topic's key: someone who saw only the
 * label (every listener) cannot forge an answer sending us to another key or port. The
 * answer's host is the packet's source address; Noise then checks that the key we reach there
 * is the one announced.
 */

/** The DNS name every label sits under. */
export const LAN_SERVICE = '_chainstore._tcp.local'
const SUFFIX = `.${LAN_SERVICE}`
/** How long one label lives (ms). Answerers accept the buckets either side too (clock skew). */
export const EPOCH_MS = 15 * 60 * 1000
const LABEL_BYTES = 16
const MAC_BYTES = 32
const LABEL = /^[0-9a-f]{32}$/
const KEY_HEX = /^[0-9a-f]{64}$/
const PORT = /^[1-9][0-9]{0,4}$/
/** One TXT answer has four strings of at most 70 bytes: anything much bigger is not ours. */
const MAX_TXT_STRINGS = 8
const MAX_TXT_BYTES = 512

const LABEL_CONTEXT = b4a.from('chainstore-networker/lan/label/v1')
const MAC_CONTEXT = b4a.from('chainstore-networker/lan/answer/v1')

/** The epoch (time bucket) of a wall-clock time in ms. */
export function epochOf(wallMs: number): number {
  return Math.floor(wallMs / EPOCH_MS)
}

/** The label a topic is looked up under in `epoch`: 32 hex characters, one DNS label. */
export function labelOf(discoveryKey: Uint8Array, epoch: number): string {
  const counter = b4a.alloc(4)
  new DataView(counter.buffer, counter.byteOffset, 4).setUint32(0, epoch >>> 0)
  const out = b4a.alloc(LABEL_BYTES)
  sodium.crypto_generichash_batch(out, [LABEL_CONTEXT, counter], discoveryKey)
  return bytesToHex(out)
}

/** The full DNS name of a label. */
export function nameOf(label: string): string {
  return label + SUFFIX
}

/** The MAC an answer for `label` carries, proving its sender holds the topic. */
export function macOf(
  discoveryKey: Uint8Array,
  label: string,
  publicKey: Uint8Array,
  port: number,
): Buffer {
  const portBytes = b4a.alloc(2)
  new DataView(portBytes.buffer, portBytes.byteOffset, 2).setUint16(0, port)
  const out = b4a.alloc(MAC_BYTES)
  sodium.crypto_generichash_batch(
    out,
    [MAC_CONTEXT, b4a.from(label), publicKey, portBytes],
    discoveryKey,
  )
  return out
}

/** Whether an answer's MAC is the one its label, key and port call for (constant time). */
export function macVerifies(discoveryKey: Uint8Array, answer: LanAnswer): boolean {
  const expected = macOf(discoveryKey, answer.label, answer.publicKey, answer.port)
  return sodium.sodium_memcmp(expected, answer.mac)
}

/** The TXT strings of our answer for `label`. */
export function answerData(
  discoveryKey: Uint8Array,
  label: string,
  publicKey: Uint8Array,
  port: number,
): string[] {
  const mac = macOf(discoveryKey, label, publicKey, port)
  return ['v=1', `k=${bytesToHex(publicKey)}`, `p=${port}`, `m=${bytesToHex(mac)}`]
}

/** An answer as read off the wire: well-formed, not yet verified. */
export interface LanAnswer {
  label: string
  publicKey: Buffer
  port: number
  mac: Buffer
}

/**
 * What a received record is: not under our service name (someone else's mDNS: not ours to
 * judge), under it but not a well-formed answer, or an answer to verify.
 */
export type ParsedRecord =
  | { kind: 'foreign' }
  | { kind: 'malformed'; why: string }
  | { kind: 'answer'; answer: LanAnswer }

/** The label of a name under our service, or null if the name is not ours. */
export function labelOfName(name: unknown): string | null {
  if (typeof name !== 'string') return null
  const lower = name.toLowerCase()
  if (!lower.endsWith(SUFFIX)) return null
  return lower.slice(0, -SUFFIX.length)
}

/** Reads one record of a received response. Never throws: the packet is untrusted. */
export function parseRecord(record: unknown): ParsedRecord {
  if (typeof record !== 'object' || record === null) return { kind: 'foreign' }
  const { name, type, data } = record as { name?: unknown; type?: unknown; data?: unknown }
  const label = labelOfName(name)
  if (label === null) return { kind: 'foreign' }
  if (!LABEL.test(label)) return { kind: 'malformed', why: 'label' }
  if (type !== 'TXT') return { kind: 'malformed', why: 'type' }
  const fields = txtFields(data)
  if (fields === null) return { kind: 'malformed', why: 'txt' }
  const key = fields.get('k')
  const port = fields.get('p')
  const mac = fields.get('m')
  if (fields.get('v') !== '1') return { kind: 'malformed', why: 'version' }
  if (key === undefined || !KEY_HEX.test(key)) return { kind: 'malformed', why: 'key' }
  if (mac === undefined || !KEY_HEX.test(mac)) return { kind: 'malformed', why: 'mac' }
  if (port === undefined || !PORT.test(port) || Number(port) > 65535) {
    return { kind: 'malformed', why: 'port' }
  }
  return {
    kind: 'answer',
    answer: {
      label,
      publicKey: b4a.from(hexToBytes(key)),
      port: Number(port),
      mac: b4a.from(hexToBytes(mac)),
    },
  }
}

/** TXT strings as key=value fields; null if there are too many, too big, or a key repeats. */
function txtFields(data: unknown): Map<string, string> | null {
  if (!Array.isArray(data) || data.length > MAX_TXT_STRINGS) return null
  const fields = new Map<string, string>()
  let bytes = 0
  for (const item of data) {
    if (!(item instanceof Uint8Array) && typeof item !== 'string') return null
    bytes += item.length
    if (bytes > MAX_TXT_BYTES) return null
    const text = typeof item === 'string' ? item : b4a.toString(item, 'latin1')
    const eq = text.indexOf('=')
    if (eq <= 0) return null
    const k = text.slice(0, eq)
    if (fields.has(k)) return null
    fields.set(k, text.slice(eq + 1))
  }
  return fields
}
