import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import b4a from 'b4a'
import Corestore from 'corestore'
import crypto from 'hypercore-crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { ErrorCode, type KeyPair, Networker, type NetworkerError } from '../../src/index.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'
import { eventually } from '../helpers/real-network.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

async function node(
  keyPair?: KeyPair,
): Promise<{ networker: Networker; swarm: MemorySwarm; store: Corestore }> {
  const dir = await mkdtemp(join(tmpdir(), 'csn-listeners-'))
  const store = new Corestore(dir)
  const swarm = new MemorySwarm(keyPair)
  const networker = new Networker(store, { swarm })
  cleanups.push(async () => {
    await networker.close()
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  return { networker, swarm, store }
}

describe('user listeners that throw', () => {
  it('a throwing peer-remove listener during a duplicate replacement cannot stop the new connection being kept and announced', async () => {
    // The remote end is a bare swarm that never answers, so the first connection never
    // carries data both ways; then the key rule alone decides a duplicate: keep the one
    // whose initiator has the larger key. a gets the larger key and dials the second.
    const pairs = [crypto.keyPair(), crypto.keyPair()].sort((x, y) =>
      b4a.compare(x.publicKey, y.publicKey),
    )
    const small: KeyPair = pairs[0]!
    const large: KeyPair = pairs[1]!
    const a = await node(large)
    const silent = new MemorySwarm(small)
    const errors: NetworkerError[] = []
    a.networker.on('error', (err) => errors.push(err))
    const adds: unknown[] = []
    a.networker.on('peer-add', (peer) => adds.push(peer.stream))
    a.networker.on('peer-remove', () => {
      throw new Error('listener bug')
    })

    const first = MemorySwarm.connect(silent, a.swarm)
    await eventually(() => adds.length === 1, 'the first connection is listed')
    expect(adds[0]).toBe(first.b)
    const second = MemorySwarm.connect(a.swarm, silent)
    await eventually(() => errors.length === 1, 'the throwing listener is reported')
    expect(errors[0]!.code).toBe(ErrorCode.LISTENER_FAILED)
    expect((errors[0]!.cause as Error).message).toBe('listener bug')
    // The replacement went through whole: the new connection is the one listed and
    // announced, the old one is closed, and the core agrees.
    await eventually(() => adds.length === 2, 'the new connection is announced')
    expect(adds[1]).toBe(second.a)
    expect([...a.networker.peers].map((p) => p.stream)).toEqual([second.a])
    expect(a.networker.diagnostics().peers).toBe(1)
    await eventually(() => first.b.destroyed, 'the replaced connection is closed')
    await silent.destroy()
  })

  it("without an 'error' listener, the listener's own error is re-thrown on a later turn", async () => {
    const a = await node()
    const b = await node()
    const thrown = new Error('unhandled listener bug')
    a.networker.on('peer-add', () => {
      throw thrown
    })
    const uncaught: unknown[] = []
    const listeners = process.listeners('uncaughtException')
    process.removeAllListeners('uncaughtException')
    const catcher = (err: unknown): void => {
      uncaught.push(err)
    }
    process.on('uncaughtException', catcher)
    try {
      MemorySwarm.connect(a.swarm, b.swarm)
      await eventually(() => uncaught.length === 1, 'the error surfaces as uncaught')
      expect(uncaught[0]).toBe(thrown)
      // Thrown after the networker finished its work: the peer is listed all the same.
      expect(a.networker.peers.size).toBe(1)
    } finally {
      process.removeListener('uncaughtException', catcher)
      for (const l of listeners) process.on('uncaughtException', l)
    }
  })
})
