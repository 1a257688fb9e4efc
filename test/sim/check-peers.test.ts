import b4a from 'b4a'
import { describe, expect, it } from 'vitest'
import { InvariantViolation, SimNetwork, SimNode } from '../../sim/index.js'
import type { NetworkerPeer } from '../../src/io/peer.js'

const TOPIC = 'ab'.repeat(32)

/** Two nodes on one topic, run until each lists the other. */
async function pair(): Promise<{ net: SimNetwork; node: SimNode; other: SimNode }> {
  const net = new SimNetwork({ seed: 3 })
  const node = new SimNode(0, net, net.keyPair(), () => 1)
  const other = new SimNode(1, net, net.keyPair(), () => 1)
  node.configure(TOPIC, { announce: true, lookup: true }, true)
  other.configure(TOPIC, { announce: true, lookup: true }, true)
  await net.clock.runUntil(3000)
  expect(node.networker.peers.size).toBe(1)
  return { net, node, other }
}

function onlyPeer(node: SimNode): NetworkerPeer {
  const [peer] = node.networker.peers
  if (peer === undefined) throw new Error('no peer')
  return peer
}

// checkPeers caches each key's record on the peer's raw stream: what it finds must not depend
// on whether the key object or the stream was met before.
describe('checkPeers', () => {
  it('passes on every check while the lists match the events', async () => {
    const { net, node } = await pair()
    for (let i = 0; i < 3; i++) node.checkPeers()
    expect(net.violation).toBeNull()
  })

  it('finds a key listed twice on the same stream, the key a copy', async () => {
    const { net, node } = await pair()
    node.checkPeers()
    const peer = onlyPeer(node)
    node.networker.peers.add({ ...peer, remotePublicKey: b4a.from(peer.remotePublicKey) })
    node.checkPeers()
    expect(net.violation).toBeInstanceOf(InvariantViolation)
    expect(net.violation?.invariant).toBe('one-peer-per-key')
  })

  it('finds a key listed twice on a stream that is not the simulator’s', async () => {
    const { net, node } = await pair()
    const peer = onlyPeer(node)
    const fake = { ...peer, stream: {} as NetworkerPeer['stream'] }
    node.networker.peers.add(fake)
    node.checkPeers()
    expect(net.violation?.invariant).toBe('one-peer-per-key')
  })

  it('finds a peer whose key has no peer-add, even once its stream was checked', async () => {
    const { net, node } = await pair()
    node.checkPeers()
    const peer = onlyPeer(node)
    // The same stream, now carrying another key: its cached record must not be reused.
    const stranger = b4a.alloc(32, 7)
    node.networker.peers.delete(peer)
    node.networker.peers.add({ ...peer, remotePublicKey: stranger })
    node.checkPeers()
    expect(net.violation?.invariant).toBe('peers-match-events')
  })

  it('counts from zero again after a restart', async () => {
    const { net, node } = await pair()
    node.crash()
    node.restart()
    await net.clock.runUntil(net.clock.now() + 3000)
    expect(node.networker.peers.size).toBe(1)
    node.checkPeers()
    expect(net.violation).toBeNull()
    node.networker.peers.clear()
    node.checkPeers()
    expect(net.violation?.invariant).toBe('peers-match-events')
  })
})
