import { describe, expect, it } from 'vitest'
import { createExtension } from '../../src/io/extension-factory.js'
import { ExtensionRegistry } from '../../src/io/extension-registry.js'
import { decodeHello } from '../../src/io/extension-wire.js'

/**
 * Every extensions channel opens with our handshake, the list of our registrations. It is
 * encoded once and reused for every channel until a registration comes or goes: it must
 * always list exactly what is registered now.
 */
function registry(): ExtensionRegistry {
  return new ExtensionRegistry({
    clock: { now: () => 0, setTimeout: () => null, clearTimeout: () => {} },
    maxHeldBytes: 1024,
    holdTimeout: 1000,
    stats: { extensionMessagesDropped: 0, extensionFramesMalformed: 0 },
    isPeer: () => false,
    findPeer: () => null,
    reportError: () => false,
    closing: () => false,
  })
}

const names = (r: ExtensionRegistry): string[] => decodeHello(r.hello()).map((e) => e.name)

describe("the extensions channel's handshake", () => {
  it('lists the registrations of now: each register and destroy changes it, nothing else does', () => {
    const r = registry()
    expect(names(r)).toEqual([])
    const a = createExtension('a', {}, r, 1024)
    expect(names(r)).toEqual(['a'])
    const first = r.hello()
    expect(r.hello()).toBe(first)
    const b = createExtension('b', {}, r, 1024)
    expect(names(r)).toEqual(['a', 'b'])
    a.destroy()
    expect(names(r)).toEqual(['b'])
    // A same-name registration replaces the earlier one under a new id.
    const before = decodeHello(r.hello())
    createExtension('b', {}, r, 1024)
    const after = decodeHello(r.hello())
    expect(after.map((e) => e.name)).toEqual(['b'])
    expect(after[0]?.id).not.toBe(before[0]?.id)
    b.destroy()
    expect(names(r)).toEqual(['b'])
  })
})
