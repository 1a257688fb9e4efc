import { describe, expect, it } from 'vitest'
import { VirtualClock } from '../../sim/index.js'
import { FlushBarriers } from '../../src/io/replication-barrier.js'

/**
 * A flushing configure's timeout is the core's deadline; once the core has settled it, the
 * wait for replication that follows is held to the same deadline, checked at the barrier's
 * own looks (no timer of its own). Time here is virtual: nothing sleeps.
 */
const TOPIC = 'ab'.repeat(32)
const REMOTE = new Uint8Array(32).fill(7)

function barriers(clock: VirtualClock, replicating: () => boolean) {
  // A store holding the topic's core, whose replicator lists the remote once it replicates.
  const store = {
    cores: {
      get: () => ({ replicator: { peers: replicating() ? [{ remotePublicKey: REMOTE }] : [] } }),
    },
  }
  return new FlushBarriers({
    store,
    clock,
    timeout: 3000,
    peersFoundFor: () => [REMOTE],
    closing: () => false,
  })
}

describe('the wait for replication after a flush', () => {
  it("gives up at the configure's deadline, at the first look past it", async () => {
    const clock = new VirtualClock()
    const b = barriers(clock, () => false)
    let replicated = false
    b.start(TOPIC, () => {
      replicated = true
    })
    const outcome = b.wait(TOPIC, { at: 100, error: new Error('too late') })?.then(
      () => 'resolved',
      (err: Error) => `${err.message} at ${clock.now()}`,
    )
    await clock.runUntil(400)
    expect(await outcome).toBe('too late at 100')
    // The barrier itself goes on, to its own bound.
    expect(replicated).toBe(false)
    await clock.runUntil(3100)
    expect(replicated).toBe(true)
  })

  it('resolves a waiter with a deadline when replication comes first, and forgets the barrier', async () => {
    const clock = new VirtualClock()
    let replicating = false
    const b = barriers(clock, () => replicating)
    b.start(TOPIC, () => {})
    const waiting = b.wait(TOPIC, { at: 1000, error: new Error('too late') })
    clock.schedule(50, () => {
      replicating = true
    })
    await clock.runUntil(200)
    await expect(waiting).resolves.toBeUndefined()
    // Done: a flushed topic holds no barrier, and a later configure does not wait.
    expect(b.wait(TOPIC)).toBeUndefined()
  })
})
