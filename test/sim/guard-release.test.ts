import { setFlagsFromString } from 'node:v8'
import { Duplex } from 'streamx'
import { describe, expect, it } from 'vitest'
import { Link, Prng, StandInSecretStream, VirtualClock } from '../../sim/index.js'
import { guardInbound } from '../../src/io/inbound-guard.js'
import type { SwarmConnection } from '../../src/io/swarm.js'

/**
 * Every connection of a simulated run is guarded against floods and released on close. A
 * release that deleted the guard's properties in the wrong order turned both layers of the
 * stream into slow dictionary objects, a copy of all their properties per close: a few
 * percent of a run. V8 says which shape an object has through a native, allowed here.
 */
setFlagsFromString('--allow-natives-syntax')
const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (
  o: object,
) => boolean

function standIn(): { conn: StandInSecretStream; raw: object } {
  const link = new Link(1, new VirtualClock(), 3, 'sim:0', 'sim:1', 0, 1)
  const prng = new Prng(1)
  const conn = new StandInSecretStream(true, link.a, {
    publicKey: prng.bytes(32),
    secretKey: prng.bytes(64),
  })
  return { conn, raw: link.a }
}

describe("the flood guard's release", () => {
  it('leaves both layers of a simulated connection as they were, fast properties and all', () => {
    const { conn, raw } = standIn()
    const shape = (o: object) => [Object.getOwnPropertyNames(o), Object.getOwnPropertySymbols(o)]
    const before = [shape(conn), shape(raw)]
    expect(hasFastProperties(conn)).toBe(true)
    const guard = guardInbound(conn as unknown as SwarmConnection, 1024, () => {})
    expect(guard.complete).toBe(true)
    expect(Object.hasOwn(conn, 'push')).toBe(true)
    guard.release()
    for (const layer of [conn, raw]) {
      expect(Object.hasOwn(layer, 'push')).toBe(false)
      expect(hasFastProperties(layer)).toBe(true)
    }
    expect([shape(conn), shape(raw)]).toEqual(before)
  })

  it('gives a layer that had its own push that push back, and it still goes through', () => {
    const layer = new Duplex()
    const pushed: unknown[] = []
    const own = function (this: Duplex, data: unknown): boolean {
      pushed.push(data)
      return true
    }
    layer.push = own
    const symbols = Object.getOwnPropertySymbols(layer)
    const guard = guardInbound(layer as unknown as SwarmConnection, 1024, () => {})
    expect(layer.push).not.toBe(own)
    layer.push('guarded')
    guard.release()
    expect(layer.push).toBe(own)
    expect(Object.getOwnPropertySymbols(layer)).toEqual(symbols)
    layer.push('released')
    expect(pushed).toEqual(['guarded', 'released'])
    expect(hasFastProperties(layer)).toBe(true)
  })
})
