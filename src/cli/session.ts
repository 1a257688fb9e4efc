import { existsSync, mkdirSync } from 'node:fs'
import b4a from 'b4a'
import type Corestore from 'corestore'
import type DHT from 'hyperdht'
import { Networker } from '../networker.js'
import { type BootstrapNode, openDht } from './bootstrap.js'
import { CliError } from './cli-error.js'
import { type MetricsAddress, type MetricsServer, startMetricsServer } from './metrics-server.js'
import type { Output } from './output.js'
import { onShutdown } from './shutdown.js'
import { startStatsView } from './stats-view.js'
import { openStore } from './store-cores.js'

/** A DHT node, a store and a networker on them, closed together and in order. */
export interface Session {
  store: Corestore
  networker: Networker
  /** Re-applies the remembered topics (persist only) and says how many. */
  restore(storage: string): Promise<void>
  close(): Promise<void>
}

/**
 * Opens the metrics endpoint first (a port in use is reported before anything else is
 * opened), the network second and the storage third: a bootstrap that does not answer is
 * reported before anything is created on disk. Callers check their own inputs before
 * calling this, and restore remembered topics (`session.restore`) only once those are valid.
 */
export async function openSession(opts: {
  storage: string
  bootstrap: BootstrapNode[] | null
  out: Output
  /** Remember this session's configure calls in the storage (seed, put, get --live). */
  persist: boolean
  /** --metrics: serve the networker's Prometheus metrics here. */
  metrics?: MetricsAddress | null
  /** --stats: a live peer table (or `stats` events with --json). */
  stats?: boolean
  /** --lan, --tcp and --peer: how else than the DHT peers are found and reached. */
  direct?: DirectOptions
}): Promise<Session> {
  const direct = opts.direct ?? NO_DIRECT
  const server: MetricsServer | null =
    opts.metrics === undefined || opts.metrics === null
      ? null
      : await startMetricsServer(opts.metrics, opts.out)
  let dht: DHT
  let store: Corestore
  try {
    // --lan works with no internet: a DHT no node answers is kept (it bootstraps later if
    // it can) and the peers come from the LAN meanwhile. --peer alone needs no DHT at all.
    // --peer alone: a DHT node with no bootstrap, which sends nothing anywhere.
    const alone = direct.peers.length > 0 && !direct.lan && opts.bootstrap === null
    dht = await openDht(alone ? [] : opts.bootstrap, {
      required: !direct.lan && direct.peers.length === 0,
      offline: () =>
        opts.out.event(
          { event: 'dht-unreachable' },
          direct.lan
            ? 'no DHT node answered: finding peers on the local network only (--lan)'
            : alone
              ? 'no discovery: dialing --peer only'
              : 'no DHT node answered: dialing --peer only',
        ),
    })
  } catch (err) {
    await server?.close()
    throw err
  }
  try {
    if (!existsSync(opts.storage)) mkdirSync(opts.storage, { recursive: true })
    store = await openStore(opts.storage)
  } catch (err) {
    await dht.destroy().catch(() => {})
    await server?.close()
    throw err
  }
  const networker = new Networker(store, {
    dht,
    persist: opts.persist,
    ...(server === null ? {} : { metrics: server.registry }),
    ...(direct.lan ? { lan: true } : {}),
  })
  const stopStats = opts.stats === true ? startStatsView(networker, opts.out) : () => {}
  const short = (key: Uint8Array) => b4a.toString(key as Buffer, 'hex').slice(0, 12)
  networker.on('peer-add', (peer) =>
    opts.out.event(
      {
        event: 'peer-add',
        peer: b4a.toString(peer.remotePublicKey, 'hex'),
        address: peer.remoteAddress,
        type: peer.type,
      },
      `+ peer ${short(peer.remotePublicKey)} ${peer.remoteAddress ?? ''} (${peer.type})`,
    ),
  )
  networker.on('peer-remove', (peer) =>
    opts.out.event(
      { event: 'peer-remove', peer: b4a.toString(peer.remotePublicKey, 'hex') },
      `- peer ${short(peer.remotePublicKey)}`,
    ),
  )
  let closing: Promise<void> | null = null
  let unregister = (): void => {}
  const session: Session = {
    store,
    networker,
    async restore(storage) {
      const report = await networker.restore()
      const restored = report.restored.length
      const failed = report.failed.length
      if (restored + failed === 0) return
      opts.out.event(
        { event: 'restored', topics: restored, failed },
        `restored ${restored} remembered topic(s)${failed > 0 ? `, ${failed} failed` : ''} (list: topics --storage ${storage}; drop one: forget <key>)`,
      )
    },
    close() {
      if (closing === null) {
        unregister()
        closing = (async () => {
          stopStats()
          // Unannounce and close connections first, then flush storage, then the DHT node;
          // the metrics endpoint last, so a scrape meanwhile still finds it.
          await networker.close({ timeout: 4000 })
          await store.close()
          await dht.destroy().catch(() => {})
          await server?.close()
        })()
      }
      return closing
    },
  }
  unregister = onShutdown(() => session.close())
  try {
    await startDirect(networker, direct, opts.out)
  } catch (err) {
    await session.close()
    throw err
  }
  return session
}

/** --lan, --tcp <port>, --peer host:port (each checked by the caller). */
export interface DirectOptions {
  lan: boolean
  tcpPort: number | null
  peers: string[]
}

const NO_DIRECT: DirectOptions = { lan: false, tcpPort: null, peers: [] }

/** Listens on --tcp's port and dials every --peer; a port in use is a one-line error. */
async function startDirect(
  networker: Networker,
  direct: DirectOptions,
  out: Output,
): Promise<void> {
  if (direct.tcpPort !== null) {
    try {
      await networker.listen({ tcp: { port: direct.tcpPort } })
    } catch (err) {
      throw new CliError(`--tcp ${direct.tcpPort}: ${(err as Error).message}`)
    }
    const address = networker.tcpAddress
    const key = b4a.toString(networker.keyPair.publicKey, 'hex')
    out.event(
      { event: 'listening', transport: 'tcp', address, key },
      `accepting TCP on port ${address?.port ?? direct.tcpPort} (get <key> --peer <this host>:${address?.port ?? direct.tcpPort})`,
    )
  }
  for (const peer of direct.peers) {
    // A peer that cannot be reached is said, not fatal: get waits for the core within --timeout.
    networker.connect(peer).then(
      (p) =>
        out.event(
          { event: 'dialed', address: peer, peer: b4a.toString(p.remotePublicKey, 'hex') },
          `connected to ${peer}`,
        ),
      (err: Error) =>
        out.event(
          { event: 'dial-failed', address: peer, error: err.message },
          `could not connect to ${peer}: ${err.message}`,
        ),
    )
  }
}

export function parseKey(value: string | undefined, what = 'key'): Buffer {
  if (value === undefined || !/^[0-9a-fA-F]{64}$/.test(value)) {
    throw new CliError(
      `${what} must be 64 hex characters (a core's public key), got '${value ?? ''}'`,
    )
  }
  return b4a.from(value, 'hex')
}
