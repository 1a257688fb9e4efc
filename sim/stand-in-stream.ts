import b4a from 'b4a'
import sodium from 'sodium-universal'
import { Duplex } from 'streamx'
import type { KeyPair } from '../src/io/swarm.js'
import type { Link, SimRawStream } from './link.js'
import { STREAM_DESTROYED } from './stream-destroyed.js'

const HELLO = 1
const REPLY = 2
const CONFIRM = 3
/** What secret-stream adds to each message on the wire: a 3-byte length and a 17-byte tag. */
const FRAMING = 3 + 17
/** The keep-alive's message (see sendKeepAlive). */
const NO_BYTES: Buffer = b4a.alloc(0)

/**
 * What the simulator's connections run by default instead of a Noise secret stream: the
 * same interface (isInitiator, publicKey, remotePublicKey, a 64-byte handshakeHash equal at
 * both ends, opened, rawStream, 'connect'/'handshake', byte counters) and the same shape
 * of handshake — three messages, the initiator open after the second, the responder after
 * the third — but no cryptography: keys travel in the clear and data is passed through.
 * Its byte counters count what secret-stream would put on the wire (each message framed
 * and tagged), so an empty keep-alive message is heard at the other end as it is there.
 *
 * Real Noise is most of a simulated run's time (a handshake costs several scalar
 * multiplications, and every message is encrypted twice), and nothing the simulator
 * checks depends on it: the networker sees the same stream either way. `--real-noise`
 * (NetworkOptions.realNoise) runs the real one. The wire keeps write boundaries, so each
 * write arrives as one message, as secret-stream's framing would deliver it.
 */
export class StandInSecretStream extends Duplex {
  readonly noiseStream = this
  readonly rawStream: SimRawStream
  publicKey: Uint8Array
  remotePublicKey: Uint8Array | null = null
  handshakeHash: Uint8Array | null = null
  connected = false
  keepAlive = 0
  userData: unknown = null
  rawBytesRead = 0
  rawBytesWritten = 0
  readonly opened: Promise<boolean>
  private resolveOpened: ((ok: boolean) => void) | null = null
  private openDone: ((err: Error | null) => void) | null = null

  constructor(
    readonly isInitiator: boolean,
    rawStream: SimRawStream,
    keyPair: KeyPair,
  ) {
    super()
    this.rawStream = rawStream
    this.publicKey = keyPair.publicKey
    this.opened = new Promise((resolve) => {
      this.resolveOpened = resolve
    })
    // The raw stream's listeners are the same four functions for every stand-in, which the
    // raw stream finds through its `secret`: no closure per stream and event.
    rawStream.secret = this
    rawStream.on('error', onRawError)
    rawStream.on('close', onRawClose)
    // Opened at once, as secret-stream starts its handshake on construction.
    this.resume()
    this.pause()
  }

  override _open(cb: (err: Error | null) => void): void {
    this.openDone = cb
    this.rawStream.on('data', onRawData)
    this.rawStream.on('end', onRawEnd)
    if (this.isInitiator) this.send(HELLO)
  }

  /** Without a cause, the shared one (see STREAM_DESTROYED). */
  override destroy(err?: Error | null): void {
    super.destroy(err || STREAM_DESTROYED)
  }

  override _write(data: Buffer, cb: (err: Error | null) => void): void {
    this.rawBytesWritten += data.byteLength + FRAMING
    this.rawStream.write(data)
    cb(null)
  }

  /**
   * secret-stream's keep-alive: an empty message. One empty buffer for every keep-alive (a
   * run sends thousands): it has no bytes to change, and the wire delivers its own empty one.
   */
  sendKeepAlive(): void {
    this.write(NO_BYTES)
  }

  override _read(cb: (err: Error | null) => void): void {
    cb(null)
  }

  override _final(cb: (err: Error | null) => void): void {
    this.rawStream.end(undefined)
    cb(null)
  }

  override _predestroy(): void {
    this.rawStream.destroy()
    const done = this.openDone
    this.openDone = null
    done?.(new Error('Stream destroyed'))
  }

  override _destroy(cb: (err: Error | null) => void): void {
    this.settleOpened(false)
    cb(null)
  }

  /** @internal What the raw stream carried: the handshake's messages, then data. */
  onraw(data: Buffer): void {
    if (this.handshakeHash !== null) {
      this.rawBytesRead += data.byteLength + FRAMING
      this.push(data)
      return
    }
    this.rawBytesRead += data.byteLength
    const kind = data[0]
    const key = data.subarray(1)
    if (!this.isInitiator && kind === HELLO) {
      this.send(REPLY)
    } else if (this.isInitiator && kind === REPLY) {
      this.remotePublicKey = b4a.from(key)
      this.send(CONFIRM)
      this.finish()
    } else if (!this.isInitiator && kind === CONFIRM) {
      this.remotePublicKey = b4a.from(key)
      this.finish()
    } else {
      this.destroy(new Error('stand-in handshake: unexpected message'))
    }
  }

  /** A handshake message: its kind and the sender's public key. */
  private send(kind: number): void {
    const message = b4a.alloc(33)
    message[0] = kind
    message.set(this.publicKey, 1)
    this.rawStream.write(message)
  }

  private finish(): void {
    const [initiator, responder] = this.isInitiator
      ? [this.publicKey, this.remotePublicKey as Uint8Array]
      : [this.remotePublicKey as Uint8Array, this.publicKey]
    // Equal at both ends and distinct per link, as a Noise handshake hash is. BLAKE2b-512 of
    // both keys and the link's id, through libsodium: the same bytes as node:crypto's
    // 'blake2b512', without the cost of a Hash object per handshake.
    this.handshakeHash = linkHandshakeHash(initiator, responder, this.rawStream.link)
    this.emit('handshake')
    const done = this.openDone
    this.openDone = null
    done?.(null)
    this.settleOpened(true)
  }

  private settleOpened(ok: boolean): void {
    const resolve = this.resolveOpened
    if (resolve === null) return
    this.resolveOpened = null
    resolve(ok)
    if (!ok) return
    this.connected = true
    this.emit('connect')
  }
}

function onRawError(this: SimRawStream, err: Error): void {
  this.secret?.destroy(err)
}
function onRawClose(this: SimRawStream): void {
  this.secret?.destroy()
}
function onRawData(this: SimRawStream, data: unknown): void {
  this.secret?.onraw(data as Buffer)
}
function onRawEnd(this: SimRawStream): void {
  this.secret?.push(null)
}

/** libsodium's one-buffer BLAKE2b, which the project's declaration of sodium-universal leaves out. */
const generichash = (
  sodium as unknown as { crypto_generichash(output: Uint8Array, input: Uint8Array): void }
).crypto_generichash

/** The hashed input of a handshake with two 32-byte keys, reused (hashing is synchronous). */
const HASHED = b4a.alloc(68)

/**
 * The handshake hash of a link's two keys. Both ends of a link hash the same bytes: the first
 * end to finish hashes them and leaves the hash on the link, and the other end takes it if its
 * keys are the same ones, else hashes its own. One BLAKE2b call (a native call) per link
 * instead of one per end; each end still has its own buffer (the first a copy).
 */
function linkHandshakeHash(initiator: Uint8Array, responder: Uint8Array, link: Link): Buffer {
  const memo = link.handshakeMemo
  if (memo !== null) {
    link.handshakeMemo = null
    if (b4a.equals(memo.initiator, initiator) && b4a.equals(memo.responder, responder)) {
      return memo.hash
    }
  }
  const hash = handshakeHash(initiator, responder, link.id)
  link.handshakeMemo = { initiator, responder, hash }
  const own = b4a.alloc(hash.byteLength)
  own.set(hash)
  return own
}

/**
 * BLAKE2b-512 of `initiator ‖ responder ‖ link id (big-endian u32)`. One hash over the bytes
 * laid end to end is the hash of the parts in turn (what crypto_generichash_batch computes),
 * without the three buffers and the array the batch call took per handshake.
 */
export function handshakeHash(initiator: Uint8Array, responder: Uint8Array, link: number): Buffer {
  const size = initiator.byteLength + responder.byteLength + 4
  const input = size === HASHED.byteLength ? HASHED : b4a.alloc(size)
  input.set(initiator, 0)
  input.set(responder, initiator.byteLength)
  input.writeUInt32BE(link, size - 4)
  const hash = b4a.alloc(64)
  generichash(hash, input)
  return hash
}
