import b4a from 'b4a'
import type { Hypercore } from 'corestore'
import crypto from 'hypercore-crypto'
import type { BootstrapNode } from '../bootstrap.js'
import { CliError } from '../cli-error.js'
import { bytes, type Output } from '../output.js'
import { openSession, parseKey, type Session } from '../session.js'
import { untilInterrupted } from '../shutdown.js'
import { listCores } from '../store-cores.js'
import { readWritten } from '../written-cores.js'

/** Announces and serves cores (default: every core this storage wrote) until interrupted. */
export async function seedCommand(opts: {
  storage: string
  keys: string[]
  bootstrap: BootstrapNode[] | null
  out: Output
}): Promise<never> {
  const keys = opts.keys.map((k) => parseKey(k, '--key'))
  const session = await openSession({
    storage: opts.storage,
    create: false,
    bootstrap: opts.bootstrap,
    out: opts.out,
  })
  const cores: Hypercore[] = []
  try {
    if (keys.length === 0) {
      // Every core this store wrote (it holds the secret key), and whatever put recorded.
      const recorded = new Set((await readWritten(opts.storage)).map((w) => w.key))
      for (const c of await listCores(session.store)) {
        if (c.writable || recorded.has(c.key)) keys.push(b4a.from(c.key, 'hex'))
      }
      if (keys.length === 0) {
        throw new CliError(`nothing to seed: ${opts.storage} has written no cores; pass --key`)
      }
    }
    for (const key of keys) {
      if ((await session.store.getAuth(crypto.discoveryKey(key))) === null) {
        throw new CliError(
          `${opts.storage} holds no core ${b4a.toString(key, 'hex')} (see status --storage)`,
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
  return serve(session, cores, opts.out)
}

/** Announces each core and reports peers and bytes served until Ctrl-C. */
export async function serve(session: Session, cores: Hypercore[], out: Output): Promise<never> {
  let served = 0
  for (const core of cores) {
    core.on('upload', (_index: number, byteLength: number) => {
      served += byteLength
    })
    await session.networker.configure(core.discoveryKey, { announce: true, lookup: false })
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
  let last = -1
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
