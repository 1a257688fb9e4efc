import b4a from 'b4a'
import type { Hypercore } from 'corestore'
import crypto from 'hypercore-crypto'
import type { BootstrapNode } from '../bootstrap.js'
import { CliError } from '../cli-error.js'
import type { MetricsAddress } from '../metrics-server.js'
import { bytes, type Output } from '../output.js'
import { type DirectOptions, openSession, parseKey, type Session } from '../session.js'
import { untilInterrupted } from '../shutdown.js'
import { requireStore } from '../storage-dir.js'
import { listCores, type RememberedTopic, rememberedTopics } from '../store-cores.js'
import { readWritten } from '../written-cores.js'

/**
 * Announces and serves cores (default: every core this storage wrote) and every topic the
 * storage remembers, until interrupted.
 */
export async function seedCommand(opts: {
  storage: string
  keys: string[]
  bootstrap: BootstrapNode[] | null
  /** --lan, --tcp, --peer. */
  direct: DirectOptions
  /** --metrics: serve Prometheus metrics here. */
  metrics: MetricsAddress | null
  /** --stats: a live peer table. */
  stats: boolean
  out: Output
}): Promise<never> {
  const keys = opts.keys.map((k) => parseKey(k, '--key'))
  requireStore(opts.storage)
  const session = await openSession({
    storage: opts.storage,
    bootstrap: opts.bootstrap,
    direct: opts.direct,
    out: opts.out,
    persist: true,
    metrics: opts.metrics,
    stats: opts.stats,
  })
  const cores: Hypercore[] = []
  let remembered: RememberedTopic[]
  try {
    // Every input is checked before a remembered topic is restored.
    remembered = await rememberedTopics(session.store)
    if (keys.length === 0) {
      // Every core this store wrote (it holds the secret key), and whatever put recorded.
      const recorded = new Set((await readWritten(opts.storage)).map((w) => w.key))
      for (const c of await listCores(session.store)) {
        if (c.writable || recorded.has(c.key)) keys.push(b4a.from(c.key, 'hex'))
      }
      if (keys.length === 0 && remembered.length === 0) {
        throw new CliError(
          `nothing to seed: ${opts.storage} has written no cores and remembers no topics; pass --key`,
        )
      }
    }
    for (const key of keys) {
      if ((await session.store.getAuth(crypto.discoveryKey(key))) === null) {
        throw new CliError(
          `${opts.storage} holds no core ${b4a.toString(key, 'hex')} (see status --storage ${opts.storage})`,
        )
      }
      const core = session.store.get({ key })
      await core.ready()
      cores.push(core)
    }
  } catch (err) {
    await session.close()
    throw err
  }
  return serve(session, opts.storage, cores, remembered, opts.out)
}

/**
 * Restores the remembered topics, announces each core, and reports peers and bytes served
 * until Ctrl-C. Remembered announcements are served like the cores asked for; remembered
 * lookups (from `get --live`) are followed: their cores keep downloading new blocks.
 */
export async function serve(
  session: Session,
  storage: string,
  asked: Hypercore[],
  remembered: RememberedTopic[],
  out: Output,
): Promise<never> {
  await session.restore(storage)
  const cores = [...asked]
  const serving = new Set(cores.map((c) => b4a.toString(c.key, 'hex')))
  for (const topic of remembered) {
    if (topic.key === null) continue
    const core = session.store.get({ key: b4a.from(topic.key, 'hex') })
    await core.ready()
    if (topic.announce && !serving.has(topic.key)) {
      serving.add(topic.key)
      cores.push(core)
    }
    if (topic.lookup) {
      core.download({ start: 0, end: -1 })
      core.on('append', () =>
        out.event(
          { event: 'append', key: topic.key, blocks: core.length },
          `following ${topic.key}: now ${core.length} blocks`,
        ),
      )
      out.event(
        { event: 'following', key: topic.key, blocks: core.length },
        `following ${topic.key} (${core.length} blocks)`,
      )
    }
  }
  let served = 0
  for (const core of cores) {
    core.on('upload', (_index: number, byteLength: number) => {
      served += byteLength
    })
    // Announce only: a remembered lookup of the same core (get --live) stays in place.
    const known = remembered.find((t) => t.key === b4a.toString(core.key, 'hex'))
    await session.networker.configure(core.discoveryKey, {
      announce: true,
      lookup: known?.lookup ?? false,
    })
    out.event(
      {
        event: 'seeding',
        key: b4a.toString(core.key, 'hex'),
        blocks: core.length,
        bytes: core.byteLength,
      },
      `seeding ${b4a.toString(core.key, 'hex')} (${core.length} blocks, ${bytes(core.byteLength)})`,
    )
  }
  // Nothing to say until something was served.
  let last = 0
  const report = setInterval(() => {
    if (served === last) return
    last = served
    out.event(
      { event: 'served', bytes: served, peers: session.networker.peers.size },
      `served ${bytes(served)} to ${session.networker.peers.size} peer(s)`,
    )
  }, 1000)
  report.unref()
  return untilInterrupted(async () => {
    clearInterval(report)
    await session.close()
    out.result({ event: 'stopped', served }, `stopped; served ${bytes(served)}`)
  })
}
