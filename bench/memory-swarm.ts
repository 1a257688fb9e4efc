import { EventEmitter } from 'node:events'
import NoiseSecretStream from '@hyperswarm/secret-stream'
import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import Protomux, { type Message } from 'protomux'
import type { DiscoverySession, KeyPair, SwarmConnection, SwarmLike } from '../src/index.js'

/** What a swarm keeps per joined topic: a slim stand-in for Hyperswarm's PeerDiscovery. */
interface TopicSession extends DiscoverySession {
  topic: Buffer
  server: boolean
  client: boolean
}

const done = Promise.resolve()

/**
 * A Hyperswarm-shaped swarm with no network, for benchmarks: joins and flushes finish at
 * once, and connections are real Noise secret streams over in-memory pairs handed in by
 * `connect`/`adopt`. Like Hyperswarm it emits `'connection'` once the handshake is done.
 */
export class BenchSwarm extends EventEmitter implements SwarmLike {
  readonly keyPair: KeyPair
  readonly sessions = new Map<string, TopicSession>()
  readonly streams = new Set<SwarmConnection>()
  destroyed = false

  constructor(keyPair: KeyPair = crypto.keyPair()) {
    super()
    this.keyPair = keyPair
  }

  join(topic: Buffer, opts: { client: boolean; server: boolean }): DiscoverySession {
    const key = b4a.toString(topic, 'hex')
    let session = this.sessions.get(key)
    if (session === undefined) {
      const created: TopicSession = {
        topic,
        server: opts.server,
        client: opts.client,
        flushed: () => done,
        refresh: (next) => {
          created.server = next.server
          created.client = next.client
          return done
        },
      }
      session = created
      this.sessions.set(key, session)
    }
    return session
  }

  leave(topic: Buffer): Promise<void> {
    this.sessions.delete(b4a.toString(topic, 'hex'))
    return done
  }

  flush(): Promise<void> {
    return done
  }

  async destroy(): Promise<void> {
    this.destroyed = true
    for (const s of this.streams) s.destroy()
  }

  /** Takes one end of a pair; emits it as a connection once its handshake completes. */
  adopt(stream: SwarmConnection): void {
    this.streams.add(stream)
    stream.on('error', noop)
    stream.once('close', () => this.streams.delete(stream))
    ;(stream as unknown as { opened: Promise<boolean> }).opened.then((ok) => {
      if (ok && !this.destroyed) this.emit('connection', stream, { topics: [] })
    })
  }

  /** Connects two swarms with one real Noise stream pair; `a` dials. */
  static connect(a: BenchSwarm, b: BenchSwarm): { a: SwarmConnection; b: SwarmConnection } {
    const pair = securePair(a.keyPair, b.keyPair)
    a.adopt(pair.a)
    b.adopt(pair.b)
    return pair
  }
}

function noop(): void {}

/** Two Noise secret streams over an in-memory duplex pair (their raw streams piped together). */
export function securePair(
  initiator: KeyPair,
  responder: KeyPair,
): { a: SwarmConnection; b: SwarmConnection } {
  const a = new NoiseSecretStream(true, null, { keyPair: initiator }) as unknown as SwarmConnection
  const b = new NoiseSecretStream(false, null, { keyPair: responder }) as unknown as SwarmConnection
  const ra = a.rawStream as NodeJS.ReadWriteStream
  const rb = b.rawStream as NodeJS.ReadWriteStream
  ra.pipe(rb).pipe(ra)
  // An end torn down with an error (a networker's liveness, say) must not crash the bench.
  for (const end of [a, b]) end.on('error', () => {})
  return { a, b }
}

export function opened(stream: SwarmConnection): Promise<boolean> {
  return (stream as unknown as { opened: Promise<boolean> }).opened
}

/** The sending end of a raw Protomux message: the baseline the extensions are held to. */
export interface RawEnd {
  message: Message<Uint8Array>
  stream: SwarmConnection
}

const RAW_PROTOCOL = 'chainstore-networker/bench-raw'

/**
 * A bare Protomux channel with one raw-bytes message on an opened secret-stream pair:
 * what an application would write by hand instead of using an extension. `onmessage`
 * runs on the responder's side.
 */
export async function rawChannel(
  pair: { a: SwarmConnection; b: SwarmConnection },
  onmessage: (bytes: Uint8Array) => void,
): Promise<RawEnd> {
  const open = (stream: SwarmConnection, receive: ((bytes: Uint8Array) => void) | null) =>
    new Promise<Message<Uint8Array>>((resolve, reject) => {
      const channel = Protomux.from(stream).createChannel({
        protocol: RAW_PROTOCOL,
        onopen: () => resolve(message),
      })
      if (channel === null) {
        reject(new Error('bench: raw channel could not be created'))
        return
      }
      const message = channel.addMessage<Uint8Array>({
        onmessage: receive === null ? noop : (bytes) => receive(bytes),
      })
      channel.open()
    })
  const [sender] = await Promise.all([open(pair.a, null), open(pair.b, onmessage)])
  return { message: sender, stream: pair.a }
}
