import { EventEmitter } from 'node:events'
import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import { Readable } from 'streamx'
import { afterEach, describe, expect, it } from 'vitest'
import { Networker, type SwarmConnection } from '../../src/index.js'
import { guardInbound, streamxCountsUnread } from '../../src/io/inbound-guard.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'
import { eventually } from '../helpers/real-network.js'

const store = { replicate: () => {} }
const open: Networker[] = []

afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close({ timeout: 1000 })))
})

/** A connection-shaped stream without streamx's unread-byte count (`_readableState.buffered`). */
function streamWithoutCount(): SwarmConnection {
  const conn = new EventEmitter() as EventEmitter & Record<string, unknown>
  conn.remotePublicKey = crypto.keyPair().publicKey
  conn.isInitiator = false
  conn.destroyed = false
  conn.push = () => true
  conn._readableState = {}
  conn.destroy = () => {
    if (conn.destroyed) return
    conn.destroyed = true
    queueMicrotask(() => conn.emit('close'))
  }
  return conn as unknown as SwarmConnection
}

describe('the flood guard checks the field it relies on', () => {
  it('the streamx in use keeps the unread-byte count (if this fails, streamx changed it)', () => {
    expect(streamxCountsUnread()).toBe(true)
  })

  it('caps a streamx stream, and says it is complete', () => {
    let overflows = 0
    const stream = new Readable()
    const guard = guardInbound(stream as unknown as SwarmConnection, 10, () => overflows++)
    expect(guard.complete).toBe(true)
    stream.push(b4a.alloc(8))
    expect(overflows).toBe(0)
    stream.push(b4a.alloc(8))
    expect(overflows).toBe(1)
    guard.release()
    stream.destroy()
  })

  it('says it is incomplete for a stream lacking the count', () => {
    const guard = guardInbound(streamWithoutCount(), 10, () => {})
    expect(guard.complete).toBe(false)
    guard.release()
  })

  it('reports floodGuard: unavailable in diagnostics() once a connection lacks the count', async () => {
    const swarm = new MemorySwarm()
    const networker = new Networker(store, { swarm, onauthenticate: () => false })
    open.push(networker)
    expect(networker.diagnostics().floodGuard).toBeUndefined()
    const conn = streamWithoutCount()
    swarm.emit('connection', conn, { topics: [] })
    expect(networker.diagnostics().floodGuard).toBe('unavailable')
    await eventually(() => networker.diagnostics().connections === 0, 'rejected and closed')
    // Sticky: the guard was missing, which the counts going back to zero do not undo.
    expect(networker.diagnostics().floodGuard).toBe('unavailable')
  })

  it('leaves floodGuard out of diagnostics() while every connection is capped', async () => {
    const sa = new MemorySwarm()
    const sb = new MemorySwarm()
    const a = new Networker(store, { swarm: sa })
    const b = new Networker(store, { swarm: sb })
    open.push(a, b)
    MemorySwarm.connect(sa, sb)
    await eventually(() => a.peers.size === 1 && b.peers.size === 1, 'connected')
    expect(a.diagnostics()).not.toHaveProperty('floodGuard')
    expect(b.diagnostics()).not.toHaveProperty('floodGuard')
  })
})
