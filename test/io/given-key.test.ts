import crypto from 'hypercore-crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { type DiscoverySession, Networker } from '../../src/index.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'

/*
 * The key a configure is given is the one the swarm joins with, as the original module
 * passed it to Hyperswarm (networker.ts, swarm-adapter.ts `keyGiven`): a 32-byte Buffer as it
 * is, a hex string or another Uint8Array decoded to a Buffer of the same bytes.
 */
class KeyRecordingSwarm extends MemorySwarm {
  readonly joined: Uint8Array[] = []
  override join(key?: unknown): DiscoverySession {
    this.joined.push(key as Uint8Array)
    return super.join()
  }
}

const idleStore = { replicate() {} }
const open: Networker[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()))
})

describe('the key a configure joins with', () => {
  it("is the caller's Buffer itself, or the decoded bytes of a hex string or Uint8Array", async () => {
    const swarm = new KeyRecordingSwarm()
    const networker = new Networker(idleStore, { swarm })
    open.push(networker)
    const buffer = crypto.randomBytes(32)
    const hex = crypto.randomBytes(32).toString('hex')
    const plain = new Uint8Array(crypto.randomBytes(32))
    await networker.configure(buffer, { announce: true, lookup: true })
    await networker.configure(hex, { announce: true, lookup: false })
    await networker.configure(plain, { announce: false, lookup: true })
    expect(swarm.joined).toHaveLength(3)
    expect(swarm.joined[0]).toBe(buffer)
    expect(Buffer.isBuffer(swarm.joined[1])).toBe(true)
    expect(Buffer.from(swarm.joined[1] as Uint8Array).toString('hex')).toBe(hex)
    expect(Buffer.isBuffer(swarm.joined[2])).toBe(true)
    expect(swarm.joined[2]).not.toBe(plain)
    expect(Buffer.from(swarm.joined[2] as Uint8Array).equals(Buffer.from(plain))).toBe(true)
    expect(networker.joined(buffer) && networker.joined(hex) && networker.joined(plain)).toBe(true)
  })

  it('joins a topic configured again after a leave with its bytes, whatever form the key has', async () => {
    const swarm = new KeyRecordingSwarm()
    const networker = new Networker(idleStore, { swarm })
    open.push(networker)
    const key = crypto.randomBytes(32)
    await networker.configure(key, { announce: true, lookup: true })
    await networker.configure(key, { announce: false, lookup: false })
    await networker.configure(key.toString('hex'), { announce: true, lookup: true })
    expect(swarm.joined).toHaveLength(2)
    expect(swarm.joined[0]).toBe(key)
    expect(swarm.joined[1]).not.toBe(key)
    expect(Buffer.from(swarm.joined[1] as Uint8Array).equals(key)).toBe(true)
  })
})
