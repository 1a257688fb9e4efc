// Minimal declarations for the untyped Holepunch modules, limited to what this package uses.

declare module 'hyperswarm' {
  import { EventEmitter } from 'node:events'
  import type { Duplex } from 'node:stream'
  export interface KeyPair {
    publicKey: Buffer
    secretKey: Buffer
  }
  export interface PeerDiscoverySession {
    flushed(): Promise<void>
    refresh(opts?: { client?: boolean; server?: boolean }): Promise<void>
    destroy(): Promise<void>
  }
  export default class Hyperswarm extends EventEmitter {
    constructor(opts?: Record<string, unknown>)
    keyPair: KeyPair
    dht: unknown
    connections: Set<Duplex>
    destroyed: boolean
    join(topic: Buffer, opts?: { client?: boolean; server?: boolean }): PeerDiscoverySession
    leave(topic: Buffer): Promise<void>
    flush(): Promise<boolean>
    listen(): Promise<void>
    destroy(opts?: { force?: boolean }): Promise<void>
  }
}

declare module 'corestore' {
  import { EventEmitter } from 'node:events'
  export default class Corestore extends EventEmitter {
    constructor(storage: string | unknown, opts?: Record<string, unknown>)
    get(opts: Record<string, unknown> | Buffer): Hypercore
    replicate(isInitiatorOrStream: unknown, opts?: Record<string, unknown>): unknown
    ready(): Promise<void>
    close(): Promise<void>
    namespace(name: string): Corestore
    session(opts?: Record<string, unknown>): Corestore
    list(): AsyncIterable<Buffer>
    getAuth(discoveryKey: Buffer): Promise<{ key: Buffer; discoveryKey: Buffer } | null>
  }
  export interface Hypercore extends EventEmitter {
    key: Buffer
    discoveryKey: Buffer
    length: number
    byteLength: number
    contiguousLength: number
    peers: { remotePublicKey: Uint8Array }[]
    writable: boolean
    ready(): Promise<void>
    append(block: Buffer | Buffer[]): Promise<{ length: number; byteLength: number }>
    get(index: number, opts?: Record<string, unknown>): Promise<Buffer | null>
    update(opts?: Record<string, unknown>): Promise<boolean>
    download(range?: Record<string, unknown>): { done(): Promise<void>; destroy(): void }
    has(start: number, end?: number): Promise<boolean>
    close(): Promise<void>
  }
}

declare module 'protomux' {
  import type { Duplex } from 'node:stream'
  export interface Encoding<T = unknown> {
    preencode(state: unknown, value: T): void
    encode(state: unknown, value: T): void
    decode(state: unknown): T
  }
  export interface MessageOptions<T = unknown> {
    encoding?: Encoding<T>
    onmessage?: (message: T, session: Channel) => void
  }
  export interface Message<T = unknown> {
    send(message: T): boolean
  }
  export interface Channel {
    protocol: string
    id: Buffer | null
    opened: boolean
    closed: boolean
    destroyed: boolean
    userData: unknown
    messages: Message[]
    open(handshake?: unknown): void
    close(): void
    addMessage<T>(opts: MessageOptions<T>): Message<T>
    cork(): void
    uncork(): void
  }
  export interface ChannelOptions {
    protocol: string
    id?: Buffer | null
    unique?: boolean
    handshake?: Encoding
    messages?: MessageOptions[]
    onopen?: (handshake: unknown, channel: Channel) => void | Promise<void>
    onclose?: (isRemote: boolean, channel: Channel) => void | Promise<void>
    ondestroy?: (channel: Channel) => void | Promise<void>
    ondrain?: (channel: Channel) => void
    userData?: unknown
  }
  export default class Protomux {
    static from(stream: Duplex | unknown, opts?: Record<string, unknown>): Protomux
    static isProtomux(x: unknown): boolean
    stream: Duplex
    drained: boolean
    createChannel(opts: ChannelOptions): Channel | null
    pair(
      opts: { protocol: string; id?: Buffer | null },
      notify: (id: Buffer | null) => void | Promise<void>,
    ): void
    unpair(opts: { protocol: string; id?: Buffer | null }): void
    opened(opts: { protocol: string; id?: Buffer | null }): boolean
    getLastChannel(opts: { protocol: string; id?: Buffer | null }): Channel | null
    cork(): void
    uncork(): void
    destroy(err?: Error): void
  }
}

declare module 'b4a' {
  const b4a: {
    from(input: string | ArrayLike<number> | ArrayBuffer, encoding?: string): Buffer
    toString(buf: Uint8Array, encoding?: string): string
    equals(a: Uint8Array, b: Uint8Array): boolean
    compare(a: Uint8Array, b: Uint8Array): number
    alloc(size: number, fill?: number): Buffer
    allocUnsafe(size: number): Buffer
    isBuffer(x: unknown): x is Buffer
    concat(list: Uint8Array[]): Buffer
  }
  export default b4a
}

declare module 'hypercore-crypto' {
  const crypto: {
    keyPair(seed?: Buffer): { publicKey: Buffer; secretKey: Buffer }
    discoveryKey(publicKey: Buffer): Buffer
    randomBytes(n: number): Buffer
    hash(data: Buffer | Buffer[]): Buffer
    /** BLAKE2b-256 of the name, then one 32-byte id per index: Hypercore's domain separation. */
    namespace(name: string | Uint8Array, count: number | number[]): Buffer[]
  }
  export default crypto
}

declare module '@hyperswarm/secret-stream' {
  import { Duplex } from 'node:stream'
  export default class NoiseSecretStream extends Duplex {
    constructor(isInitiator: boolean, rawStream?: unknown, opts?: Record<string, unknown>)
    static keyPair(seed?: Buffer): { publicKey: Buffer; secretKey: Buffer }
    isInitiator: boolean
    publicKey: Buffer
    remotePublicKey: Buffer
    rawStream: unknown
    rawBytesRead: number
    rawBytesWritten: number
    opened: Promise<boolean>
    userData: unknown
    setKeepAlive(ms: number): void
    setTimeout(ms: number): void
  }
}

declare module '@hyperswarm/testnet' {
  import type DHT from 'hyperdht'
  export interface Testnet {
    nodes: DHT[]
    bootstrap: { host: string; port: number }[]
    createNode(opts?: Record<string, unknown>): DHT
    destroy(): Promise<void>
  }
  export default function createTestnet(
    size?: number,
    opts?: Record<string, unknown>,
  ): Promise<Testnet>
}

declare module 'hyperdht' {
  export default class DHT {
    constructor(opts?: Record<string, unknown>)
    static bootstrapper(port: number, host: string, opts?: Record<string, unknown>): DHT
    static keyPair(seed?: Buffer): { publicKey: Buffer; secretKey: Buffer }
    ready(): Promise<void>
    fullyBootstrapped(): Promise<void>
    address(): { host: string; port: number }
    destroy(opts?: Record<string, unknown>): Promise<void>
  }
}

declare module 'hyperbee' {
  export interface HyperbeeEntry<K, V> {
    seq: number
    key: K
    value: V
  }
  export interface HyperbeeOptions {
    keyEncoding?: string
    valueEncoding?: string
    /** false: read and write on the given core itself, opening no extra sessions. */
    sessions?: boolean
    /** false: register no replication extension on the core. */
    extension?: boolean
    readonly?: boolean
  }
  export default class Hyperbee<K = Buffer, V = Buffer> {
    constructor(core: unknown, opts?: HyperbeeOptions)
    readonly core: unknown
    readonly version: number
    ready(): Promise<void>
    close(): Promise<void>
    get(key: K): Promise<HyperbeeEntry<K, V> | null>
    put(key: K, value: V): Promise<void>
    del(key: K): Promise<void>
    createReadStream(range?: Record<string, unknown>): AsyncIterable<HyperbeeEntry<K, V>>
  }
}
