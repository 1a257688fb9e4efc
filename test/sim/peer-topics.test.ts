import { describe, expect, it } from 'vitest'
import { checkPeerTopics } from '../../sim/awareness-checks.js'
import { InvariantViolation, SimNetwork, SimNode } from '../../sim/index.js'

const ONE = 'ab'.repeat(32)
const TWO = 'cd'.repeat(32)

/** Two nodes that both joined ONE and TWO, run until each lists the other with both topics. */
async function pair(): Promise<{ net: SimNetwork; a: SimNode; b: SimNode }> {
  const net = new SimNetwork({ seed: 3 })
  const a = new SimNode(0, net, net.keyPair(), () => 1)
  const b = new SimNode(1, net, net.keyPair(), () => 1)
  for (const node of [a, b]) {
    for (const topic of [ONE, TWO]) node.configure(topic, { announce: true, lookup: true }, true)
  }
  await net.clock.runUntil(5000)
  return { net, a, b }
}

// checkPeerTopics compares what each end lists for the other with the topics both joined.
describe('checkPeerTopics', () => {
  it('passes when each end lists exactly the topics both joined', async () => {
    const { net, a, b } = await pair()
    expect(a.networker.getPeer(b.key)?.topics).toHaveLength(2)
    expect(checkPeerTopics([a, b], net.clock.now())).toBe(2)
  })

  it('finds a topic both joined that an end does not list', async () => {
    const { net, a, b } = await pair()
    // Wished for by both without a configure: neither end was proven it.
    const three = 'ef'.repeat(32)
    a.wishes.set(three, { announce: true, lookup: true })
    b.wishes.set(three, { announce: true, lookup: true })
    expect(() => checkPeerTopics([a, b], net.clock.now())).toThrow(InvariantViolation)
  })

  it('finds a listed topic one end no longer wishes for', async () => {
    const { net, a, b } = await pair()
    b.wishes.delete(TWO)
    expect(() => checkPeerTopics([a, b], net.clock.now())).toThrow(/lists 2 topic\(s\).*joined 1/)
  })
})
