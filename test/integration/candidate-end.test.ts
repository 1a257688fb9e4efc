import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import Protomux from 'protomux'
import { afterEach, describe, expect, it } from 'vitest'
import { Networker, type SwarmConnection } from '../../src/index.js'
import { guardInbound } from '../../src/io/inbound-guard.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'
import { eventually } from '../helpers/real-network.js'

/*
 * A held duplicate that the remote closes without a byte on it is not a connection the remote
 * kept. Found in test/multihost/lan.test.ts (b): a pair kept one connection over UDX and held
 * a LAN TCP dial as a candidate at both ends; one end's candidate deadline dropped it (silent),
 * the end of that stream reached the other end a few ms before its own deadline, was counted
 * as the remote's first data, and the deadline then promoted the closing candidate over the
 * kept connection: the peer was removed and re-added twice and a third connection was dialed.
 */

/**
 * A store that opens a channel on every connection it replicates, as Corestore does: the
 * kept connection carries data both ways, so it is active at both ends.
 */
const store = {
  replicate: (stream: SwarmConnection) =>
    Protomux.from(stream).createChannel({ protocol: 'store' })?.open(),
}
const open: Networker[] = []

afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close({ timeout: 1000 })))
})

/** Two key pairs, the first with the larger public key (the key rule's preferred initiator). */
function orderedKeyPairs() {
  const x = crypto.keyPair()
  const y = crypto.keyPair()
  return b4a.compare(x.publicKey, y.publicKey) > 0 ? [x, y] : [y, x]
}

describe('the end of a stream is not its first data', () => {
  it("the inbound guard does not report a stream's end as the remote's first push", () => {
    const sa = new MemorySwarm()
    const sb = new MemorySwarm()
    const { a } = MemorySwarm.connect(sa, sb)
    const heard: string[] = []
    const guard = guardInbound(
      a,
      1 << 20,
      () => {},
      () => heard.push('first'),
    )
    const layer = a as unknown as { push(data: unknown): boolean }
    layer.push(null)
    expect(heard).toEqual([])
    guard.release()
    a.destroy()
  })

  it('a candidate the remote ends without a byte on it is not promoted: the kept, active connection stays listed', async () => {
    const [high, low] = orderedKeyPairs()
    const sa = new MemorySwarm(high)
    const sb = new MemorySwarm(low)
    const a = new Networker(store, { swarm: sa })
    const b = new Networker(store, { swarm: sb })
    open.push(a, b)
    const changes: string[] = []
    a.on('peer-add', () => changes.push('add'))
    a.on('peer-remove', () => changes.push('remove'))
    // The kept connection: dialed by the smaller key, so a second one the larger key dials
    // outranks it in the static order, and data on that one would promote it at once.
    const kept = MemorySwarm.connect(sb, sa)
    await eventually(() => a.peers.size === 1 && b.peers.size === 1, 'connected')
    // Each end's store wrote a byte on it: active both ways, so a newcomer is held.
    await eventually(
      () => a.diagnostics().connections === 1 && b.diagnostics().connections === 1,
      'one connection each',
    )
    await new Promise((r) => setTimeout(r, 50))
    const second = MemorySwarm.connect(sa, sb)
    await eventually(
      () => a.diagnostics().connections === 2 && b.diagnostics().connections === 2,
      'the newcomer held at both ends',
    )
    expect([...a.peers][0]?.stream).toBe(kept.b)
    // b gives it up without writing on it (as its candidate deadline does). Its end reaches
    // a; with the end taken for data, the outranking candidate was promoted at once.
    second.b.end()
    const state = (second.a as unknown as { _readableState: { ending: boolean; ended: boolean } })
      ._readableState
    await eventually(() => state.ending || state.ended, 'the end reached a')
    await new Promise((r) => setTimeout(r, 100))
    expect(changes).toEqual(['add'])
    expect([...a.peers].map((p) => p.stream)).toEqual([kept.b])
    expect(kept.b.destroyed).toBe(false)
  })
})
