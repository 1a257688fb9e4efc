import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import createTestnet from '@hyperswarm/testnet'
import b4a from 'b4a'
import Corestore from 'corestore'
import { Networker } from '../networker.js'
import { isolatedDht } from './bootstrap.js'
import { type MetricsAddress, type MetricsServer, startMetricsServer } from './metrics-server.js'
import type { Output } from './output.js'
import { onShutdown } from './shutdown.js'

export interface DemoOptions {
  peers: number
  blocks: number
  blockSize: number
  /** --lan: no testnet; the networkers find each other by mDNS on this machine, over TCP. */
  lan?: boolean
  /** --tcp <port>: the writer accepts TCP here and each reader dials it (beside the DHT). */
  tcpPort?: number | null
  /** --metrics: serve every networker's metrics here, labelled node="writer", "reader-1", … */
  metrics?: MetricsAddress | null
  /** Where the metrics endpoint says where it listens. */
  out?: Output
  /** One line per happening (human text or JSON, decided by the caller). */
  log: (event: Record<string, unknown>) => void
}

export interface DemoSummary {
  peers: number
  blocks: number
  bytes: number
  /** ms from the readers' configure call to every reader having the first block. */
  firstBlockMs: number
  /** ms from the readers' configure call to every reader having every block. */
  allBlocksMs: number
  totalMs: number
}

// Timings in JSON to a tenth of a millisecond: finer digits are noise, not information.
const tenth = (ms: number): number => Math.round(ms * 10) / 10

const hostPort = (address: string): { host: string; port: number } => {
  const i = address.lastIndexOf(':')
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) }
}

const short = (key: Uint8Array): string => b4a.toString(key as Buffer, 'hex').slice(0, 8)

/**
 * A whole network in one process: a private HyperDHT testnet on loopback, one writer that
 * appends blocks, and readers that configure the core's discovery key and replicate it.
 */
export async function runDemo(opts: DemoOptions): Promise<DemoSummary> {
  const { log } = opts
  const started = performance.now()
  // First, so a port in use is reported before anything is made.
  const server: MetricsServer | null =
    opts.metrics === undefined || opts.metrics === null || opts.out === undefined
      ? null
      : await startMetricsServer(opts.metrics, opts.out)
  const lan = opts.lan === true
  let testnet: Awaited<ReturnType<typeof createTestnet>> | null = null
  try {
    // --lan needs no DHT at all: each networker's node has no bootstrap and finds nothing.
    if (!lan) testnet = await createTestnet(3)
  } catch (err) {
    await server?.close()
    throw err
  }
  if (testnet === null) log({ event: 'lan', note: 'no DHT: peers are found by mDNS' })
  else log({ event: 'testnet', bootstrap: testnet.bootstrap.map((b) => `${b.host}:${b.port}`) })
  const dirs: string[] = []
  const nodes: { networker: Networker; store: Corestore; name: string }[] = []
  let cleaned: Promise<void> | null = null
  // Also on Ctrl-C: the demo's temporary directories never outlive it.
  const cleanup = (): Promise<void> => {
    cleaned ??= (async () => {
      for (const { networker, store } of nodes) {
        await networker.close({ timeout: 5000 })
        await store.close()
      }
      await testnet?.destroy()
      for (const dir of dirs) await rm(dir, { recursive: true, force: true })
      await server?.close()
    })()
    return cleaned
  }
  const unregister = onShutdown(cleanup)
  try {
    for (let i = 0; i < opts.peers; i++) {
      const dir = await mkdtemp(join(tmpdir(), 'chainstore-demo-'))
      dirs.push(dir)
      const store = new Corestore(dir)
      const name = i === 0 ? 'writer' : `reader-${i}`
      const networker = new Networker(store, {
        dht: testnet === null ? isolatedDht() : testnet.createNode(),
        ...(lan ? { lan: true } : {}),
        ...(server === null
          ? {}
          : { metrics: { registry: server.registry, labels: { node: name } } }),
      })
      networker.on('peer-add', (peer) =>
        log({
          event: 'peer-add',
          node: name,
          peer: short(peer.remotePublicKey),
          transport: peer.type,
        }),
      )
      networker.on('peer-remove', (peer) =>
        log({ event: 'peer-remove', node: name, peer: short(peer.remotePublicKey) }),
      )
      nodes.push({ networker, store, name })
    }
    const [writer, ...readers] = nodes
    if (writer === undefined) throw new Error('the demo needs at least one peer')

    const core = writer.store.get({ name: 'demo-feed' })
    await core.ready()
    const block = (i: number) => b4a.from(`block ${i} `.padEnd(opts.blockSize, '.'))
    for (let i = 0; i < opts.blocks; i += 100) {
      await core.append(
        Array.from({ length: Math.min(100, opts.blocks - i) }, (_, j) => block(i + j)),
      )
    }
    log({
      event: 'written',
      node: 'writer',
      key: b4a.toString(core.key, 'hex'),
      blocks: core.length,
      bytes: core.byteLength,
    })
    let direct: string | null = null
    if (opts.tcpPort !== undefined && opts.tcpPort !== null) {
      await writer.networker.listen({ tcp: { host: '127.0.0.1', port: opts.tcpPort } })
      direct = `127.0.0.1:${writer.networker.tcpAddress?.port ?? opts.tcpPort}`
      log({ event: 'listening', node: 'writer', transport: 'tcp', address: direct })
    }
    await writer.networker.configure(core.discoveryKey, { announce: true, lookup: false })
    log({
      event: 'announced',
      node: 'writer',
      discoveryKey: b4a.toString(core.discoveryKey, 'hex'),
    })

    const t0 = performance.now()
    let firstBlockMs = 0
    await Promise.all(
      readers.map(async ({ networker, store, name }) => {
        const replica = store.get({ key: core.key })
        await replica.ready()
        let reported = 0
        replica.on('download', () => {
          const have = replica.contiguousLength
          // Blocks can land out of order: report the contiguous prefix, and each value once.
          if (have <= reported) return
          if (
            reported === 0 ||
            have - reported >= Math.max(1, Math.floor(opts.blocks / 4)) ||
            have === opts.blocks
          ) {
            reported = have
            log({ event: 'progress', node: name, blocks: have, of: opts.blocks })
          }
        })
        if (direct !== null) {
          // Straight to the writer's address, its key checked by Noise; the DHT runs beside.
          const publicKey = writer.networker.keyPair.publicKey
          const peer = await networker.connect({ ...hostPort(direct), publicKey })
          log({ event: 'dialed', node: name, address: direct, transport: peer.type })
        }
        await networker.configure(replica.discoveryKey, { announce: false, lookup: true })
        log({ event: 'configured', node: name, peers: networker.peers.size })
        await replica.get(0)
        firstBlockMs = Math.max(firstBlockMs, performance.now() - t0)
        await replica.download({ start: 0, end: opts.blocks }).done()
        const last = await replica.get(opts.blocks - 1)
        if (last === null || !b4a.equals(last, block(opts.blocks - 1)))
          throw new Error(`${name} got a wrong last block`)
        log({ event: 'complete', node: name, blocks: replica.contiguousLength })
      }),
    )
    const allBlocksMs = performance.now() - t0
    return {
      peers: opts.peers,
      blocks: opts.blocks,
      bytes: core.byteLength,
      firstBlockMs: tenth(firstBlockMs),
      allBlocksMs: tenth(allBlocksMs),
      totalMs: tenth(performance.now() - started),
    }
  } finally {
    unregister()
    await cleanup()
  }
}
