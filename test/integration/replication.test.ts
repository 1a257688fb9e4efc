import b4a from 'b4a'
import { describe, expect, it } from 'vitest'
import { eventually, useRealNetwork } from '../helpers/real-network.js'

const testnet = useRealNetwork()

describe('replication on a real testnet', () => {
  it('replicates one core between two networkers', async () => {
    const { networker: n1, store: s1 } = await testnet().networker()
    const { networker: n2, store: s2 } = await testnet().networker()
    const core1 = s1.get({ name: 'main' })
    await core1.ready()
    await core1.append([b4a.from('hello'), b4a.from('world')])

    const core2 = s2.get({ key: core1.key })
    await core2.ready()

    await n1.configure(core1.discoveryKey, { announce: true, lookup: false })
    await n2.configure(core2.discoveryKey, { announce: false, lookup: true })

    expect(n2.peers.size).toBe(1)
    const [peer] = [...n2.peers]
    expect(b4a.equals(peer!.remotePublicKey, n1.keyPair.publicKey as Buffer)).toBe(true)
    expect(peer!.type).toBe('udx')
    expect(peer!.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/)

    expect(b4a.toString((await core2.get(0))!)).toBe('hello')
    expect(b4a.toString((await core2.get(1))!)).toBe('world')
    await eventually(() => n1.peers.size === 1, 'writer sees the reader')
  })
})
