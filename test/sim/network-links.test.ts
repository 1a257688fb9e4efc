import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Link, SimNetwork } from '../../sim/index.js'
import { pairKey } from '../../sim/network.js'

/**
 * The network's list of live links: a link stays listed until both of its ends have closed,
 * each end on its own (a silenced wire may close one end long before the other).
 */
describe("the simulated network's live links", () => {
  async function connected() {
    const net = new SimNetwork({ seed: 5 })
    const a = net.createSwarm()
    const b = net.createSwarm()
    net.dial(a.id, b.id, [])
    await net.clock.runFor(100)
    expect(net.links.size).toBe(1)
    const [link] = [...net.links]
    if (link === undefined) throw new Error('no link')
    return { net, a, b, link }
  }

  it('lists a link until its second end closes, not its first', async () => {
    const { net, a, b, link } = await connected()
    link.silence()
    link.endOf(a.id).destroy()
    await net.clock.runFor(100)
    expect(link.endOf(a.id).destroyed).toBe(true)
    expect(link.endOf(b.id).destroyed).toBe(false)
    expect([...net.links]).toEqual([link])
    link.endOf(b.id).destroy()
    await net.clock.runFor(100)
    expect(net.links.size).toBe(0)
  })

  it('forgets a cut link once both ends heard of it', async () => {
    const { net, link } = await connected()
    link.cut('fault')
    expect(net.links.size).toBe(1)
    await net.clock.runFor(100)
    expect(net.links.size).toBe(0)
  })
})

describe('the key of a pair of nodes a partition blocks', () => {
  it('is the same either way round and differs between any two pairs', () => {
    const id = fc.nat({ max: 2 ** 26 - 1 })
    fc.assert(
      fc.property(id, id, id, id, (a, b, c, d) => {
        expect(pairKey(a, b)).toBe(pairKey(b, a))
        const same = (a === c && b === d) || (a === d && b === c)
        expect(pairKey(a, b) === pairKey(c, d)).toBe(same)
      }),
    )
  })

  it('refuses ids it could not keep apart', () => {
    for (const [a, b] of [
      [2 ** 26, 0],
      [0, -1],
      [1.5, 2],
    ] as const) {
      expect(() => pairKey(a, b)).toThrow(RangeError)
    }
  })
})

/** A redial finds the swarms of a key by index: every swarm made with it, in order, and no other. */
describe("the simulated network's swarms by key", () => {
  it("lists a key's swarms (a node and its restarts) in the order they were made", () => {
    const net = new SimNetwork({ seed: 9 })
    const first = net.createSwarm()
    const other = net.createSwarm()
    const restarted = net.createSwarm(first.keyPair)
    expect(net.swarmsWithKey(first.keyPair.publicKey)).toEqual([first, restarted])
    expect(net.swarmsWithKey(other.keyPair.publicKey)).toEqual([other])
    expect(net.swarmsWithKey(new Uint8Array(32))).toEqual([])
  })

  it('a direct dial reaches the live swarm of the key, not its crashed one', async () => {
    const net = new SimNetwork({ seed: 9 })
    const dialer = net.createSwarm()
    const old = net.createSwarm()
    old.crash()
    const live = net.createSwarm(old.keyPair)
    dialer.joinPeer(old.keyPair.publicKey)
    await net.clock.runFor(100)
    expect(dialer.connectedTo(live.id)).toBe(true)
    expect(dialer.connectedTo(old.id)).toBe(false)
  })
})

/** A wire delivers in order after its latency, also while more than a batch is under way. */
describe('a simulated wire', () => {
  it('delivers every write in order, however many are in flight', async () => {
    const net = new SimNetwork({ seed: 5 })
    const link = new Link(0, net.clock, 10, 'a', 'b', 0, 1)
    const got: number[] = []
    link.b.on('data', (data: unknown) => got.push((data as Buffer)[0] as number))
    for (let i = 0; i < 200; i++) {
      link.a.write(Buffer.from([i]))
      // A write every 0.1 ms against a 10 ms latency: about a hundred in flight at once.
      await net.clock.runFor(0.1)
    }
    await net.clock.runFor(20)
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i))
  })
})
