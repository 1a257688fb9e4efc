import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import { describe, expect, it } from 'vitest'
import { Networker } from '../../src/index.js'
import { codeOf } from '../helpers/assertions.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'

const store = { replicate() {} }

describe('bounded waits', () => {
  it('configure with a timeout rejects FLUSH_TIMEOUT when the swarm never flushes, and the topic stays joined', async () => {
    const swarm = new MemorySwarm()
    swarm.hangFlush = true
    const networker = new Networker(store, { swarm })
    const dk = crypto.randomBytes(32)
    expect(await codeOf(networker.configure(dk, { timeout: 50 }))).toBe('FLUSH_TIMEOUT')
    expect(networker.joined(dk)).toBe(true)
    expect(networker.flushed(dk)).toBe(false)
    // The hung flush is still in flight; a new configuration starts a fresh join and flush.
    swarm.hangFlush = false
    await networker.configure(dk, { lookup: false, timeout: 1000 })
    expect(networker.flushed(dk)).toBe(true)
    await networker.close()
  })

  it('configure with an AbortSignal rejects ABORTED, before and during the wait', async () => {
    const swarm = new MemorySwarm()
    swarm.hangFlush = true
    const networker = new Networker(store, { swarm })
    const dk = crypto.randomBytes(32)
    expect(await codeOf(networker.configure(dk, { signal: AbortSignal.abort() }))).toBe('ABORTED')
    const controller = new AbortController()
    const pending = networker.configure(dk, { signal: controller.signal })
    setTimeout(() => controller.abort(), 20)
    expect(await codeOf(pending)).toBe('ABORTED')
    expect(await codeOf(networker.configure(dk, { signal: 'stop' as never }))).toBe(
      'INVALID_OPTION',
    )
    expect(await codeOf(networker.configure(dk, { timeout: -1 }))).toBe('INVALID_OPTION')
    await networker.close({ timeout: 100 })
  })

  it('close({ timeout }) resolves within its bound and reports topics it could not unannounce', async () => {
    const swarm = new MemorySwarm()
    const networker = new Networker(store, { swarm })
    const stuck = crypto.randomBytes(32)
    await networker.configure(stuck)
    swarm.hangLeave = true
    const pendingConfigure = codeOf(networker.configure(crypto.randomBytes(32), { flush: true }))
    const report = await networker.close({ timeout: 100 })
    expect(report.forced).toBe(true)
    expect(report.unannounced.map((b) => b4a.toString(b, 'hex')).sort()).toContain(
      b4a.toString(stuck, 'hex'),
    )
    expect(networker.closed).toBe(true)
    expect(await pendingConfigure).toBe('NETWORKER_CLOSED')
    // Later calls resolve at once with the same report.
    expect(await networker.close()).toBe(report)
    expect(await codeOf(networker.close({ timeout: 'soon' as never }))).toBe('INVALID_OPTION')
  })

  it('a clean close reports nothing unannounced and is not forced', async () => {
    const swarm = new MemorySwarm()
    const networker = new Networker(store, { swarm })
    await networker.configure(crypto.randomBytes(32))
    const report = await networker.close({ timeout: 5000 })
    expect(report).toEqual({ unannounced: [], forced: false })
    expect(swarm.destroyed).toBe(true)
  })

  it('close cuts short connections that never finish closing', async () => {
    const a = new MemorySwarm()
    const b = new MemorySwarm()
    const na = new Networker(store, { swarm: a })
    const nb = new Networker(store, { swarm: b })
    const { a: stream } = MemorySwarm.connect(a, b)
    await new Promise<void>((r) => na.once('peer-add', () => r()))
    // A stream whose destroy never completes.
    stream.destroy = (() => stream) as never
    const report = await na.close({ timeout: 100 })
    expect(report.forced).toBe(true)
    expect(na.peers.size).toBe(0)
    await nb.close({ timeout: 100 })
  })
})
