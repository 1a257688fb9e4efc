import { describe, expect, it } from 'vitest'
import { ErrorCode, Networker, NetworkerError } from '../../src/index.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'
import { rejectionOf, thrownBy } from '../helpers/thrown.js'

const store = { replicate: () => {} }

function codeOf(fn: () => unknown): string | null {
  try {
    fn()
    return null
  } catch (err) {
    return err instanceof NetworkerError ? err.code : `not a NetworkerError: ${String(err)}`
  }
}

/** Each numeric option, a value it takes, and values it refuses. */
const numeric: [name: string, ok: number, bad: unknown[]][] = [
  ['authenticateTimeout', 1, [0, -1, Number.NaN, '10']],
  ['maxMessageSize', 1, [0, -1, Number.NaN, '10']],
  ['maxInboundBuffer', 1, [0, -1, Number.NaN, '10']],
  ['maxHeldBytes', 1, [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '10']],
  ['extensionHoldTimeout', 1, [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '10']],
  ['maxPeers', 0, [-1, Number.NaN, '10']],
  ['flushReplicationTimeout', 0, [-1, Number.NaN, 'soon']],
]

describe('numeric options are checked at construction', () => {
  for (const [name, ok, bad] of numeric) {
    it(`${name}: takes ${ok}, refuses ${bad.map(String).join(', ')} with INVALID_OPTION naming it`, async () => {
      const n = new Networker(store, { swarm: new MemorySwarm(), [name]: ok })
      await n.close()
      for (const value of bad) {
        const make = () => new Networker(store, { swarm: new MemorySwarm(), [name]: value })
        expect(codeOf(make), `${name}: ${String(value)}`).toBe(ErrorCode.INVALID_OPTION)
        expect(thrownBy(make).message).toContain(name)
      }
    })
  }

  it("configure's timeout, close's timeout and an extension's maxMessageSize are checked too", async () => {
    const n = new Networker(store, { swarm: new MemorySwarm() })
    const topic = Buffer.alloc(32, 1)
    expect((await rejectionOf(n.configure(topic, { timeout: -1 }))).message).toContain(
      'option timeout',
    )
    expect(codeOf(() => n.registerExtension('x', { maxMessageSize: 0 }))).toBe(
      ErrorCode.INVALID_OPTION,
    )
    expect((await rejectionOf(n.close({ timeout: -1 }))).message).toContain('close timeout')
    await n.close()
  })
})
