/// <reference path="../types/holepunch.d.ts" preserve="true" />
// The reference above ships this package's declarations of the untyped Holepunch modules
// (corestore, hyperdht, hyperswarm, …) to TypeScript users, who import corestore beside us.

import createTestnet from '@hyperswarm/testnet'
import DHT from 'hyperdht'

/** A DHT bootstrap node: `{ host, port }`, or `'host:port'`. */
export type BootstrapAddress = { host: string; port: number } | string

/** A private HyperDHT network on this machine, for tests, demos and several local processes. */
export interface LocalTestnet {
  /** The bootstrap nodes as `host:port`, to hand to other processes (`localDht(bootstrap)`). */
  readonly bootstrap: string[]
  /** A DHT node on this testnet for one networker: `new Networker(store, { dht: testnet.dht() })`. */
  dht(): DHT
  /** Destroys the testnet's own nodes (networkers destroy the nodes they were given on close). */
  destroy(): Promise<void>
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1'
}

function toAddress(node: BootstrapAddress): { host: string; port: number } {
  // Checked at run time too: JavaScript callers get a clear error, not a crash further in.
  if (typeof node === 'object' && node !== null) {
    if (typeof node.host === 'string' && Number.isInteger(node.port)) return node
  } else if (typeof node === 'string') {
    const m = /^([^:\s]+):(\d{1,5})$/.exec(node.trim())
    if (m !== null) return { host: m[1] as string, port: Number(m[2]) }
  }
  throw new TypeError(`a bootstrap node is 'host:port' or { host, port }, got ${String(node)}`)
}

/**
 * A HyperDHT node for a network whose bootstrap nodes all run on this machine (a testnet
 * from `createLocalTestnet`, or `chainstore-networker testnet` in another terminal). Pass it
 * as the networker's `dht`: `new Networker(store, { dht: localDht(['127.0.0.1:49737']) })`.
 *
 * Why not just `{ bootstrap }`: a node that binds to 0.0.0.0 and believes itself behind a
 * firewall announces an address other local processes cannot dial and falls back to
 * holepunching through the DHT, which loses connections between processes on one machine
 * (one side lists a peer the other never saw). Bound to 127.0.0.1 and declared reachable,
 * every local peer dials every other directly. `ephemeral`: it is a client of the DHT, not a
 * routing node. Other HyperDHT options in `opts` are passed on.
 */
export function localDht(
  bootstrap: BootstrapAddress | BootstrapAddress[],
  opts: Record<string, unknown> = {},
): DHT {
  const nodes = (Array.isArray(bootstrap) ? bootstrap : [bootstrap]).map(toAddress)
  const remote = nodes.find((n) => !isLoopback(n.host))
  if (nodes.length === 0 || remote !== undefined) {
    throw new TypeError(
      remote === undefined
        ? 'localDht needs at least one bootstrap node'
        : `localDht is for bootstrap nodes on this machine; ${remote.host} is not on loopback (pass { bootstrap } to the networker instead)`,
    )
  }
  return new DHT({
    ephemeral: true,
    ...opts,
    bootstrap: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    host: '127.0.0.1',
    firewalled: false,
  })
}

/**
 * Starts a private HyperDHT network of `size` nodes (default 3) on 127.0.0.1; `port` asks
 * for the first node's port (default: any free one). Nothing leaves the machine.
 */
export async function createLocalTestnet(
  size = 3,
  opts: { port?: number } = {},
): Promise<LocalTestnet> {
  const testnet = await createTestnet(size, {
    host: '127.0.0.1',
    ...(opts.port === undefined ? {} : { port: opts.port }),
  })
  const bootstrap = testnet.bootstrap.map((b) => `${b.host}:${b.port}`)
  return {
    bootstrap,
    dht: () => localDht(bootstrap),
    destroy: () => testnet.destroy(),
  }
}
