import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import createTestnet, { type Testnet } from '@hyperswarm/testnet'
import Corestore from 'corestore'
import Hyperswarm from 'hyperswarm'
import { afterEach, beforeEach } from 'vitest'
import { Networker, type NetworkerOptions } from '../../src/index.js'

/**
 * A private HyperDHT testnet on loopback plus helpers to make real Corestores and
 * networkers on it. Everything made here is torn down by `destroy()`, in reverse order.
 */
export class RealNetwork {
  private readonly cleanups: (() => Promise<unknown>)[] = []

  private constructor(readonly testnet: Testnet) {}

  static async create(size = 3): Promise<RealNetwork> {
    return new RealNetwork(await createTestnet(size))
  }

  async store(): Promise<Corestore> {
    const dir = await mkdtemp(join(tmpdir(), 'csn-test-'))
    const store = new Corestore(dir)
    await store.ready()
    this.cleanups.push(async () => {
      await store.close()
      await rm(dir, { recursive: true, force: true })
    })
    return store
  }

  /** A networker whose swarm uses a loopback DHT node of this testnet. */
  async networker(
    opts: NetworkerOptions = {},
    store?: Corestore,
  ): Promise<{ networker: Networker; store: Corestore }> {
    const s = store ?? (await this.store())
    const networker = new Networker(s, { dht: this.testnet.createNode(), ...opts })
    this.cleanups.push(() => networker.close())
    return { networker, store: s }
  }

  /** A plain Hyperswarm (no networker) on this testnet, for interoperability tests. */
  plainSwarm(opts: Record<string, unknown> = {}): Hyperswarm {
    const swarm = new Hyperswarm({ dht: this.testnet.createNode(), ...opts })
    this.cleanups.push(() => swarm.destroy())
    return swarm
  }

  async destroy(): Promise<void> {
    for (const cleanup of this.cleanups.reverse()) await cleanup().catch(() => {})
    await this.testnet.destroy()
  }
}

/** Resolves when `predicate` holds, checking on every event of `emitter` and every 20 ms. */
export async function eventually(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** A fresh testnet for every test of the calling file; the getter returns the current one. */
export function useRealNetwork(size = 3): () => RealNetwork {
  let net: RealNetwork | null = null
  beforeEach(async () => {
    net = await RealNetwork.create(size)
  })
  afterEach(async () => {
    await net?.destroy()
    net = null
  })
  return () => {
    if (net === null) throw new Error('useRealNetwork: no testnet outside a test')
    return net
  }
}
