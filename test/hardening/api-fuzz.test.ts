import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import b4a from 'b4a'
import Corestore from 'corestore'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ErrorCode, type Extension, Networker, NetworkerError } from '../../src/index.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'
import { eventually } from '../helpers/real-network.js'

const CODES = new Set<string>(Object.values(ErrorCode))

/** Runs one call: it must either work or fail with a NetworkerError carrying a documented code. */
async function worksOrCoded(what: string, call: () => unknown): Promise<void> {
  try {
    await call()
  } catch (err) {
    if (!(err instanceof NetworkerError) || !CODES.has(err.code)) {
      throw new Error(`${what} failed without a documented code: ${String(err)}`)
    }
  }
}

const dirs: string[] = []
async function store(): Promise<Corestore> {
  const dir = await mkdtemp(join(tmpdir(), 'csn-fuzz-'))
  dirs.push(dir)
  const s = new Corestore(dir)
  await s.ready()
  return s
}

let storeA: Corestore
let storeB: Corestore
let a: Networker
let b: Networker
let extB: Extension<unknown>

beforeAll(async () => {
  storeA = await store()
  storeB = await store()
  const sa = new MemorySwarm()
  const sb = new MemorySwarm()
  a = new Networker(storeA, { swarm: sa })
  b = new Networker(storeB, { swarm: sb })
  extB = b.registerExtension('fuzz', { encoding: 'binary' })
  MemorySwarm.connect(sa, sb)
  await eventually(() => a.peers.size === 1 && b.peers.size === 1, 'connected')
})

afterAll(async () => {
  await a.close({ timeout: 2000 })
  await b.close({ timeout: 2000 })
  await storeA.close()
  await storeB.close()
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((u) => b4a.from(u))
const anyKey = fc.oneof(
  key32,
  key32.map((k) => b4a.toString(k, 'hex')),
  fc.uint8Array({ maxLength: 40 }),
  fc.string({ maxLength: 70 }),
  fc.anything(),
)
const anyOptions = fc.oneof(
  fc.record(
    {
      announce: fc.oneof(fc.boolean(), fc.anything()),
      lookup: fc.oneof(fc.boolean(), fc.anything()),
      flush: fc.oneof(fc.boolean(), fc.anything()),
      timeout: fc.oneof(fc.nat(50), fc.anything()),
      signal: fc.oneof(fc.constant(AbortSignal.abort()), fc.anything()),
    },
    { requiredKeys: [] },
  ),
  fc.anything(),
)
const encodings = fc.oneof(
  fc.constantFrom('binary', 'utf8', 'json'),
  fc.string({ maxLength: 8 }),
  fc.anything(),
)
const handlers = fc.oneof(
  fc.record(
    {
      encoding: encodings,
      maxMessageSize: fc.oneof(fc.integer({ min: -5, max: 100 }), fc.anything()),
      onmessage: fc.oneof(
        fc.constant(() => {
          throw new Error('handler fails')
        }),
        fc.constant(() => {}),
        fc.anything(),
      ),
    },
    { requiredKeys: [] },
  ),
  fc.anything(),
)

type Call = { name: string; run: (ext: Extension<unknown> | null) => unknown }

/** Gives each generated call a readable form, so a shrunk counterexample shows its arguments. */
function call(name: string, args: unknown[], run: Call['run']): Call {
  return {
    name,
    run,
    [fc.toStringMethod]: () => `${name}(${args.map((x) => fc.stringify(x)).join(', ')})`,
  } as Call
}

const calls: fc.Arbitrary<Call> = fc.oneof(
  fc
    .tuple(anyKey, anyOptions)
    .map(([k, o]) => call('configure', [k, o], () => a.configure(k as string, o as never))),
  anyKey.map((k) =>
    call('status', [k], () => [
      a.status(k as string),
      a.joined(k as string),
      a.flushed(k as string),
    ]),
  ),
  anyKey.map((k) => call('getPeer', [k], () => a.getPeer(k as string))),
  fc
    .tuple(fc.oneof(fc.string({ maxLength: 6 }), fc.anything()), handlers)
    .map(([n, h]) =>
      call('registerExtension', [n, h], () => a.registerExtension(n as string, h as never)),
    ),
  fc
    .tuple(fc.anything(), fc.oneof(fc.constant('peer'), anyKey))
    .map(([msg, to]) =>
      call('send', [msg, to], (ext) =>
        ext?.send(msg, to === 'peer' ? [...a.peers][0]! : (to as string)),
      ),
    ),
  fc.anything().map((msg) => call('broadcast', [msg], (ext) => ext?.broadcast(msg))),
  fc
    .tuple(fc.anything(), fc.anything())
    .map(([x, y]) =>
      call('b sends raw bytes', [x, y], () =>
        extB.broadcast(b4a.from(JSON.stringify([x, y]) ?? 'x')),
      ),
    ),
)

describe('every public method under arbitrary input', () => {
  it('works or throws a documented code, and the networker still replicates', async () => {
    const errors: unknown[] = []
    a.on('extension-error', (err) => errors.push(err))
    const ext = a.registerExtension('fuzz', { encoding: 'json', onmessage: () => {} })
    await fc.assert(
      fc.asyncProperty(fc.array(calls, { minLength: 1, maxLength: 8 }), async (batch) => {
        for (const call of batch)
          await worksOrCoded(call.name, () => call.run(ext.isDestroyed ? null : ext))
        expect(a.closed).toBe(false)
      }),
      { numRuns: 150 },
    )
    // Constructor options too (every one checked, nothing created for bad ones).
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            keyPair: fc.anything(),
            onauthenticate: fc.anything(),
            authenticateTimeout: fc.anything(),
            maxMessageSize: fc.anything(),
            maxInboundBuffer: fc.anything(),
            maxPeers: fc.anything(),
          },
          { requiredKeys: [] },
        ),
        async (opts) => {
          await worksOrCoded('constructor', async () => {
            const n = new Networker(storeA, { ...opts, swarm: new MemorySwarm() } as never)
            await n.close()
          })
        },
      ),
      { numRuns: 100 },
    )
    for (const bad of [null, 42, {}, { replicate: 1 }]) {
      await worksOrCoded(
        'constructor store',
        () => new Networker(bad as never, { swarm: new MemorySwarm() }),
      )
    }

    // Still replicating after all that, on the same connection.
    const core = storeA.get({ name: 'after-fuzz' })
    await core.ready()
    await core.append(b4a.from('alive'))
    const replica = storeB.get({ key: core.key })
    await replica.ready()
    expect(b4a.toString((await replica.get(0))!)).toBe('alive')
    expect(a.peers.size).toBe(1)
    expect(errors.every((e) => e instanceof NetworkerError)).toBe(true)
  })
})
