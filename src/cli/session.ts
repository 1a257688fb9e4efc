import { existsSync, mkdirSync } from 'node:fs'
import b4a from 'b4a'
import type Corestore from 'corestore'
import type DHT from 'hyperdht'
import { Networker } from '../networker.js'
import { type BootstrapNode, openDht } from './bootstrap.js'
import { CliError } from './cli-error.js'
import type { Output } from './output.js'
import { onShutdown } from './shutdown.js'
import { openStore } from './store-cores.js'

/** A store, a DHT node and a networker on them, closed together and in order. */
export interface Session {
  store: Corestore
  networker: Networker
  close(): Promise<void>
}

export async function openSession(opts: {
  storage: string
  create: boolean
  bootstrap: BootstrapNode[] | null
  out: Output
}): Promise<Session> {
  if (!existsSync(opts.storage)) {
    if (!opts.create) throw new CliError(`storage directory ${opts.storage} does not exist`)
    mkdirSync(opts.storage, { recursive: true })
  }
  const store = await openStore(opts.storage)
  let dht: DHT
  try {
    dht = await openDht(opts.bootstrap)
  } catch (err) {
    await store.close()
    throw err
  }
  // Topics are remembered in the storage and re-applied on start.
  const networker = new Networker(store, { dht, persist: true })
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
  const restored = await networker.restore()
  if (restored.restored.length + restored.failed.length > 0) {
    opts.out.event(
      { event: 'restored', topics: restored.restored.length, failed: restored.failed.length },
      `restored ${restored.restored.length} remembered topic(s)${restored.failed.length > 0 ? `, ${restored.failed.length} failed` : ''}`,
    )
  }
  let closed = false
  let unregister = (): void => {}
  const session: Session = {
    store,
    networker,
    async close() {
      if (closed) return
      closed = true
      unregister()
      // Unannounce and close connections first, then flush storage, then the DHT node.
      await networker.close({ timeout: 4000 })
      await store.close()
      await dht.destroy().catch(() => {})
    },
  }
  unregister = onShutdown(() => session.close())
  return session
}

export function parseKey(value: string | undefined, what = 'key'): Buffer {
  if (value === undefined || !/^[0-9a-fA-F]{64}$/.test(value)) {
    throw new CliError(
      `${what} must be 64 hex characters (a core's public key), got '${value ?? ''}'`,
    )
  }
  return b4a.from(value, 'hex')
}
