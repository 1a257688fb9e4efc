import { formatWithOptions } from 'node:util'
import b4a from 'b4a'
import createDebug from 'debug'
import crypto from 'hypercore-crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { type KeyPair, Networker, type NetworkerOptions } from '../../src/index.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'
import { eventually } from '../helpers/real-network.js'

const cleanups: (() => Promise<unknown>)[] = []
const lines: string[] = []
const originalLog = createDebug.log

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
  createDebug.disable()
  lines.length = 0
})

const idleStore = { replicate: (): void => {} }

function node(keyPair?: KeyPair, opts: NetworkerOptions = {}) {
  const swarm = new MemorySwarm(keyPair)
  const networker = new Networker(idleStore, { swarm, ...opts })
  cleanups.push(() => networker.close())
  return { networker, swarm }
}

/** Topic changes, a rejection, a duplicate, a reconnect and an undecodable extension message. */
async function scenario(): Promise<void> {
  const pairs = [crypto.keyPair(), crypto.keyPair(), crypto.keyPair(), crypto.keyPair()].sort(
    (x, y) => b4a.compare(x.publicKey, y.publicKey),
  )
  const refused = pairs[1]!
  const a = node(pairs[3]!, {
    onauthenticate: async (key) => !b4a.equals(key, refused.publicKey),
  })
  const b = node(pairs[2]!)
  const topic = crypto.randomBytes(32)
  await a.networker.configure(topic, { announce: true, lookup: true })
  await a.networker.configure(topic, { announce: false, lookup: false })

  const stranger = new MemorySwarm(refused)
  cleanups.push(() => stranger.destroy())
  MemorySwarm.connect(stranger, a.swarm)
  await eventually(() => a.networker.stats().totals.authenticationRejections === 1, 'rejected')

  const json = a.networker.registerExtension('json', { encoding: 'json' })
  const raw = b.networker.registerExtension('json', { encoding: 'utf8' })
  const first = MemorySwarm.connect(b.swarm, a.swarm)
  await eventually(() => raw.peers.length === 1 && json.peers.length === 1, 'both have json')
  let undecodable = 0
  a.networker.on('extension-error', () => undecodable++)
  raw.send('{ not json', raw.peers[0]!)
  await eventually(() => undecodable === 1, 'an undecodable message')

  first.a.destroy()
  await eventually(() => a.networker.peers.size === 0, 'b gone')
  MemorySwarm.connect(b.swarm, a.swarm)
  await eventually(() => a.networker.stats().totals.reconnects === 1, 'b back')
  // A silent remote dials, then we dial it: the key rule keeps ours (a has the larger key).
  const silent = new MemorySwarm(pairs[0]!)
  cleanups.push(() => silent.destroy())
  MemorySwarm.connect(silent, a.swarm)
  await eventually(() => a.networker.peers.size === 2, 'the silent one listed')
  MemorySwarm.connect(a.swarm, silent)
  await eventually(() => a.networker.stats().totals.duplicatesDropped === 1, 'a duplicate')
}

describe('debug logs (DEBUG=chainstore-networker:*)', () => {
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
    createDebug.disable()
    createDebug.log = originalLog
  })

  it('logs topic transitions, dedup decisions, authentication results, reconnects and extension errors, one line each', async () => {
    // Where `debug` writes: captured instead of standard error.
    createDebug.log = (...args: unknown[]) => {
      lines.push(formatWithOptions({ colors: false }, ...args))
    }
    createDebug.enable('chainstore-networker:*')
    await scenario()
    const of = (ns: string) => lines.filter((l) => l.includes(`chainstore-networker:${ns} `))
    expect(of('topic').some((l) => / join \(announce\+lookup\), op \d+/.test(l))).toBe(true)
    expect(of('topic').some((l) => / joined$/.test(l))).toBe(true)
    expect(of('topic').some((l) => / flushed$/.test(l))).toBe(true)
    expect(of('topic').some((l) => / leave, op \d+/.test(l))).toBe(true)
    expect(of('topic').some((l) => / left$/.test(l))).toBe(true)
    expect(of('auth').some((l) => / rejected$/.test(l))).toBe(true)
    expect(of('auth').some((l) => / accepted$/.test(l))).toBe(true)
    expect(
      of('dedup').some((l) => /drop connection \d+ to [0-9a-f]{12} \(rejected\)/.test(l)),
    ).toBe(true)
    expect(
      of('dedup').some((l) => /drop connection \d+ to [0-9a-f]{12} \(duplicate\)/.test(l)),
    ).toBe(true)
    expect(of('dedup').some((l) => /keep connection \d+ to [0-9a-f]{12}/.test(l))).toBe(true)
    expect(of('peer').some((l) => /\+ peer [0-9a-f]{12} .*, a reconnect$/.test(l))).toBe(true)
    expect(of('peer').some((l) => /connection to [0-9a-f]{12} closed \(ended\)/.test(l))).toBe(true)
    expect(of('extension').some((l) => /^.*json with [0-9a-f]{12}: DECODE_FAILED /.test(l))).toBe(
      true,
    )
    for (const line of lines) expect(line).not.toContain('\n')
    // Each line but the extensions' says which networker of the process it is about.
    const tagged = lines.filter((l) => !l.includes('chainstore-networker:extension '))
    expect(tagged.every((l) => / #\d+ /.test(l))).toBe(true)
  })

  it('writes nothing when off (the default)', async () => {
    let calls = 0
    createDebug.log = () => {
      calls++
    }
    await scenario()
    expect(calls).toBe(0)
  })
})
