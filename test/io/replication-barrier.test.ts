import { describe, expect, it } from 'vitest'
import { VirtualClock } from '../../sim/virtual-clock.js'
import { FlushBarriers } from '../../src/io/replication-barrier.js'

/*
 * The flush barrier (replication-barrier.ts) when there is nothing to wait for: replicated at
 * once, in the same call, with no barrier kept and the peers not even listed; and a wait
 * that is over at once still makes an older flush's wait of the topic moot.
 */
const TOPIC = 'cd'.repeat(32)
const REMOTE = new Uint8Array(32).fill(9)

function setup(opts: { holds: boolean; timeout?: number; closing?: boolean }) {
  const clock = new VirtualClock()
  let replicating = false
  let listed = 0
  const store = {
    cores: {
      get: () =>
        opts.holds
          ? { replicator: { peers: replicating ? [{ remotePublicKey: REMOTE }] : [] } }
          : null,
    },
  }
  const barriers = new FlushBarriers({
    store,
    clock,
    timeout: opts.timeout ?? 3000,
    peersFoundFor: () => {
      listed++
      return [REMOTE]
    },
    closing: () => opts.closing === true,
  })
  return {
    clock,
    barriers,
    listed: () => listed,
    replicate: () => {
      replicating = true
    },
  }
}

describe('a flush with nothing to wait for', () => {
  it('is replicated within the call when the store does not hold the core, the peers unasked', () => {
    const { barriers, listed } = setup({ holds: false })
    let replicated = 0
    barriers.start(TOPIC, () => replicated++)
    expect(replicated).toBe(1)
    expect(listed()).toBe(0)
    expect(barriers.wait(TOPIC)).toBeUndefined()
  })

  it('is replicated within the call when every peer found replicates already', () => {
    const { barriers, listed, replicate } = setup({ holds: true })
    replicate()
    let replicated = 0
    barriers.start(TOPIC, () => replicated++)
    expect(replicated).toBe(1)
    expect(listed()).toBe(1)
    expect(barriers.wait(TOPIC)).toBeUndefined()
  })

  it('is replicated within the call while the networker closes, or with no time to wait', () => {
    for (const opts of [
      { holds: true, closing: true },
      { holds: true, timeout: 0 },
    ]) {
      const { barriers } = setup(opts)
      let replicated = 0
      barriers.start(TOPIC, () => replicated++)
      expect(replicated).toBe(1)
      expect(barriers.wait(TOPIC)).toBeUndefined()
    }
  })

  it('waits while a peer found does not replicate, and a flush over at once ends that wait', async () => {
    const { clock, barriers, replicate } = setup({ holds: true })
    let older = 0
    barriers.start(TOPIC, () => older++)
    expect(barriers.wait(TOPIC)).toBeInstanceOf(Promise)
    replicate()
    let newer = 0
    barriers.start(TOPIC, () => newer++)
    expect(newer).toBe(1)
    expect(barriers.wait(TOPIC)).toBeUndefined()
    await clock.runFor(100)
    // The older wait saw the peer replicate, but it was no longer the topic's current one.
    expect(older).toBe(0)
  })

  it('asks for the peers once when it starts waiting, then once per look, 5 ms apart', async () => {
    const { clock, barriers, listed, replicate } = setup({ holds: true })
    let replicated = 0
    barriers.start(TOPIC, () => replicated++)
    // Found waiting: no second pass over the same peers in the same call.
    expect(listed()).toBe(1)
    await clock.runFor(4)
    expect(listed()).toBe(1)
    await clock.runFor(1)
    expect(listed()).toBe(2)
    expect(replicated).toBe(0)
    replicate()
    await clock.runFor(5)
    expect(listed()).toBe(3)
    expect(replicated).toBe(1)
    expect(barriers.wait(TOPIC)).toBeUndefined()
  })
})
