import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import b4a from 'b4a'
import { describe, expect, it } from 'vitest'
import { Networker } from '../../src/index.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r))
    gc()
  }
  return process.memoryUsage().heapUsed
}

const store = { replicate: (): void => {} }

describe('topics left are forgotten', () => {
  it('100,000 configure/leave cycles on distinct keys leave the heap flat', async () => {
    const swarm = new MemorySwarm()
    const networker = new Networker(store, { swarm })
    const key = b4a.alloc(32)
    const cycle = async (i: number): Promise<void> => {
      key.writeUInt32BE(i, 0)
      await networker.configure(key, { announce: true, lookup: true, flush: false })
      await networker.configure(key, { announce: false, lookup: false })
    }
    // Warm up, so what is measured is growth, not the first allocations of each kind.
    for (let i = 0; i < 2_000; i++) await cycle(i)
    const before = await settledHeap()
    for (let i = 2_000; i < 100_000; i++) await cycle(i)
    const after = await settledHeap()
    expect(networker.allStatuses()).toEqual([])
    expect(networker.status(key)).toBeNull()
    // Remembering 98,000 topics would cost several hundred bytes each (tens of MB); a flat
    // heap stays within noise.
    expect(after - before).toBeLessThan(2 * 1024 * 1024)
    await networker.close()
  }, 120_000)
})
