import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import { describe, expect, it } from 'vitest'
import { ErrorCode, type NetworkerError, type NetworkerPeer } from '../../src/index.js'
import { eventually, useRealNetwork } from '../helpers/real-network.js'
import { duplexPair, listed, replicatesAndTalks, webSocketPair } from './streams.js'

const testnet = useRealNetwork()

/** The same connection at both ends: Noise's handshake hash is one value for both. */
function sameConnection(a: NetworkerPeer, b: NetworkerPeer): boolean {
  const ha = (a.stream as { handshakeHash?: Uint8Array }).handshakeHash
  const hb = (b.stream as { handshakeHash?: Uint8Array }).handshakeHash
  return ha !== undefined && hb !== undefined && b4a.equals(ha, hb)
}

describe('adopt(stream, { initiator })', () => {
  it('takes an in-process duplex pair: Noise, replication and extensions as for any peer', async () => {
    const a = await testnet().networker()
    const b = await testnet().networker()
    const [left, right] = duplexPair()
    const [peerA, peerB] = await Promise.all([
      a.networker.adopt(left, { initiator: true }),
      b.networker.adopt(right, { initiator: false }),
    ])
    expect(peerA.type).toBe('stream')
    expect(peerA.remoteAddress).toBeNull()
    expect(b4a.equals(peerA.remotePublicKey, b.networker.keyPair.publicKey)).toBe(true)
    expect(b4a.equals(peerB.remotePublicKey, a.networker.keyPair.publicKey)).toBe(true)
    expect(a.networker.peers.has(peerA)).toBe(true)
    expect(sameConnection(peerA, peerB)).toBe(true)
    await replicatesAndTalks(a, b)
    expect(a.networker.stats().peers[0]).toMatchObject({ type: 'stream', initiator: true })
  })

  it('takes a real WebSocket pair (ws), named by its type option', async () => {
    const a = await testnet().networker()
    const b = await testnet().networker()
    const ws = await webSocketPair()
    try {
      const [peerA, peerB] = await Promise.all([
        a.networker.adopt(ws.client, { initiator: true, type: 'websocket' }),
        b.networker.adopt(ws.server, {
          initiator: false,
          type: 'websocket',
          publicKey: a.networker.keyPair.publicKey,
        }),
      ])
      expect(peerA.type).toBe('websocket')
      expect(peerB.type).toBe('websocket')
      await replicatesAndTalks(b, a)
    } finally {
      await ws.close()
    }
  })

  it('takes an already-open secret stream as it is', async () => {
    const a = await testnet().networker()
    const b = await testnet().networker()
    const NoiseSecretStream = (await import('@hyperswarm/secret-stream')).default
    const [left, right] = duplexPair()
    const sa = new NoiseSecretStream(true, left, { keyPair: a.networker.keyPair })
    const sb = new NoiseSecretStream(false, right, { keyPair: b.networker.keyPair })
    await Promise.all([sa.opened, sb.opened])
    const [peerA] = await Promise.all([
      a.networker.adopt(sa, { initiator: true, type: 'pipe' }),
      b.networker.adopt(sb, { initiator: false }),
    ])
    expect(peerA.stream).toBe(sa)
    expect(peerA.type).toBe('pipe')
    await replicatesAndTalks(a, b)
  })

  it('ends with exactly one peer at both ends when adopting to a key connected over the DHT', async () => {
    const a = await testnet().networker()
    const b = await testnet().networker()
    const topic = crypto.randomBytes(32)
    await a.networker.configure(topic)
    await b.networker.configure(topic)
    await eventually(
      () => a.networker.peers.size === 1 && b.networker.peers.size === 1,
      'connected over the DHT',
    )
    const before = listed(a.networker, b.networker)
    expect(before.type).toBe('udx')
    // Let the UDX connection carry data both ways first (replication opens its channels).
    await replicatesAndTalks(a, b)
    const [left, right] = duplexPair()
    const [peerA, peerB] = await Promise.all([
      a.networker.adopt(left, { initiator: true }),
      b.networker.adopt(right, { initiator: false }),
    ])
    // Whichever connection the dedup kept, both ends kept the same one, and only it.
    expect(peerA).toBe(listed(a.networker, b.networker))
    expect(peerB).toBe(listed(b.networker, a.networker))
    expect(sameConnection(peerA, peerB)).toBe(true)
    await eventually(
      () =>
        a.networker.diagnostics().connections === 1 && b.networker.diagnostics().connections === 1,
      'the other connection closed at both ends',
    )
    expect(a.networker.peers.size).toBe(1)
    expect(b.networker.peers.size).toBe(1)
    expect(sameConnection(listed(a.networker, b.networker), listed(b.networker, a.networker))).toBe(
      true,
    )
    await replicatesAndTalks(b, a)
  })

  it('rejects with REMOTE_KEY_MISMATCH, closing the stream, when the remote is not the key expected', async () => {
    const a = await testnet().networker()
    const b = await testnet().networker()
    const [left, right] = duplexPair()
    const wrong = crypto.keyPair().publicKey
    const [ra, rb] = await Promise.allSettled([
      a.networker.adopt(left, { initiator: true, publicKey: wrong }),
      b.networker.adopt(right, { initiator: false }),
    ])
    expect(ra.status).toBe('rejected')
    expect((ra as PromiseRejectedResult).reason.code).toBe(ErrorCode.REMOTE_KEY_MISMATCH)
    expect(rb.status).toBe('rejected')
    expect(a.networker.peers.size + b.networker.peers.size).toBe(0)
    expect(left.destroyed).toBe(true)
  })

  it('rejects with HANDSHAKE_TIMEOUT when the other end never answers, and HANDSHAKE_FAILED on garbage', async () => {
    const { networker } = await testnet().networker({ handshakeTimeout: 300 })
    const [silent] = duplexPair()
    const timedOut = networker.adopt(silent, { initiator: true })
    await eventually(() => networker.diagnostics().pendingHandshakes === 1, 'handshaking')
    await expect(timedOut).rejects.toMatchObject({ code: ErrorCode.HANDSHAKE_TIMEOUT })
    expect(silent.destroyed).toBe(true)

    const [mine, theirs] = duplexPair()
    const failed = networker.adopt(mine, { initiator: false })
    // A frame of the right length header and nonsense in it: Noise cannot read it.
    theirs.write(b4a.concat([b4a.from([40, 0, 0]), crypto.randomBytes(40)]))
    const err = (await failed.catch((e: NetworkerError) => e)) as NetworkerError
    expect(err.code).toBe(ErrorCode.HANDSHAKE_FAILED)
    expect(networker.diagnostics().pendingHandshakes).toBeUndefined()
    expect(networker.diagnostics().connections).toBe(0)
  })

  it('rejects with AUTHENTICATION_FAILED when onauthenticate says no', async () => {
    const a = await testnet().networker({
      onauthenticate: (_key, done) => done(new Error('not you')),
    })
    const b = await testnet().networker()
    const [left, right] = duplexPair()
    const [ra] = await Promise.allSettled([
      a.networker.adopt(left, { initiator: true }),
      b.networker.adopt(right, { initiator: false }).catch(() => null),
    ])
    expect((ra as PromiseRejectedResult).reason.code).toBe(ErrorCode.AUTHENTICATION_FAILED)
  })

  it('rejects with NETWORKER_CLOSED when the networker closes during the handshake, and after', async () => {
    const { networker } = await testnet().networker()
    const [silent] = duplexPair()
    const pending = networker.adopt(silent, { initiator: true }).catch((e: NetworkerError) => e)
    await eventually(() => networker.diagnostics().pendingHandshakes === 1, 'handshaking')
    await networker.close()
    expect(await pending).toMatchObject({ code: ErrorCode.NETWORKER_CLOSED })
    expect(silent.destroyed).toBe(true)
    expect(networker.diagnostics().pendingHandshakes).toBeUndefined()
    const [late] = duplexPair()
    await expect(networker.adopt(late, { initiator: true })).rejects.toMatchObject({
      code: ErrorCode.NETWORKER_CLOSED,
    })
  })

  it('refuses a stream that is closed already, and one that leads back to ourselves', async () => {
    const { networker } = await testnet().networker()
    const [gone] = duplexPair()
    gone.destroy()
    await expect(networker.adopt(gone, { initiator: true })).rejects.toMatchObject({
      code: ErrorCode.HANDSHAKE_FAILED,
    })
    const [left, right] = duplexPair()
    const results = await Promise.allSettled([
      networker.adopt(left, { initiator: true }),
      networker.adopt(right, { initiator: false }),
    ])
    // The end that opens first sees its own key and closes; the other's handshake is cut.
    const codes = results.map((r) => (r as PromiseRejectedResult).reason.code).sort()
    expect(codes).toEqual([ErrorCode.CONNECTION_CLOSED, ErrorCode.HANDSHAKE_FAILED].sort())
    expect(networker.diagnostics()).toMatchObject({ connections: 0, peers: 0 })
  })

  it('checks its options at the call', async () => {
    const { networker } = await testnet().networker()
    const [s] = duplexPair()
    await expect(networker.adopt(s, {} as never)).rejects.toMatchObject({
      code: ErrorCode.INVALID_OPTION,
    })
    await expect(networker.adopt({}, { initiator: true })).rejects.toMatchObject({
      code: ErrorCode.INVALID_OPTION,
    })
    await expect(networker.adopt(s, { initiator: true, publicKey: 'nope' })).rejects.toMatchObject({
      code: ErrorCode.INVALID_PUBLIC_KEY,
    })
  })
})
