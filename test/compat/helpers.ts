import b4a from 'b4a'
import type Corestore from 'corestore'
import type { Hypercore } from 'corestore'
import type { Networker, NetworkerOptions } from '../../src/index.js'
import { hex } from '../helpers/assertions.js'
import { useRealNetwork } from '../helpers/real-network.js'

/*
 * The helpers of the original test/all.js (create, append, get, cleanup) on a real stack: a
 * private HyperDHT testnet on loopback per test instead of the original's DHT bootstrap on
 * port 3100, and a real Corestore 7 on a temp dir per networker instead of random-access-memory.
 */

/**
 * The parts of the original networker's surface our type declarations may not list yet.
 * Reached through this view so the tests check what the object does at run time whatever
 * the declarations say (a missing member fails the test, not the type-check).
 */
export interface OriginalSurface {
  /** The original's Set of the replication streams of its peers (one per remote key). */
  readonly streams: Set<{ remotePublicKey: Buffer; publicKey: Buffer }>
  on(event: 'flushed' | 'joined' | 'left', listener: (discoveryKey: Buffer) => void): unknown
}

export const original = (networker: Networker): OriginalSurface =>
  networker as unknown as OriginalSurface

/** Registers the per-test testnet (torn down after each test) and returns the original's create(). */
export function compatNetwork(): (
  opts?: NetworkerOptions,
) => Promise<{ store: Corestore; networker: Networker }> {
  const net = useRealNetwork()
  return (opts = {}) => net().networker(opts)
}

/**
 * The original's `store.get()`. Corestore 7 cannot make a core from no arguments (it needs a
 * name, key or key pair), and a named core knows its key only once ready: so a fresh name per
 * call, and ready before the key is read — as the original's `core1.key` assumed.
 */
let names = 0
export async function newCore(store: Corestore): Promise<Hypercore> {
  const core = store.get({ name: `compat-${names++}` })
  await core.ready()
  return core
}

/** The original's `store.get(key)` (Corestore 7 still takes a bare key), opened. */
export async function replicaOf(store: Corestore, key: Buffer): Promise<Hypercore> {
  const core = store.get(key)
  await core.ready()
  return core
}

/** The original's append(core, data): Hypercore 11 is promise-based and takes bytes. */
export async function append(core: Hypercore, data: string): Promise<void> {
  await core.append(b4a.from(data))
}

/**
 * The original's get(core, idx): waits for the block to be replicated. A timeout makes a
 * block that never arrives fail with this message instead of the whole test's timeout.
 */
export async function get(core: Hypercore, idx: number): Promise<Buffer | null> {
  return core.get(idx, { timeout: 20_000 })
}

/** The original's cleanup: closes every networker (the testnet goes after the test). */
export async function cleanup(networkers: Networker[]): Promise<void> {
  for (const networker of networkers) await networker.close()
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Resolves with `p`, or rejects naming `what` after `ms` (where tape would hang). */
export function within<T>(p: Promise<T>, what: string, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for: ${what}`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

export const keyOf = (b: Uint8Array): string => hex(b)
