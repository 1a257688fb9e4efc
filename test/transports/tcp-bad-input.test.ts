import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { ErrorCode, type Networker, type NetworkerError } from '../../src/index.js'
import { eventually, useRealNetwork } from '../helpers/real-network.js'

const testnet = useRealNetwork()
const HANDSHAKE_TIMEOUT = 500

/** A raw TCP client that never speaks Noise, from a chosen loopback address. */
async function rawSocket(port: number, from = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, localAddress: from })
  socket.on('error', () => {})
  // Read (and drop) what the listener answers: a client that never reads never sees the
  // close behind an answer it left unread (the listener's Noise reply to a valid first message).
  socket.resume()
  await once(socket, 'connect')
  return socket
}

function closed(socket: Socket): Promise<void> {
  return socket.destroyed ? Promise.resolve() : once(socket, 'close').then(() => undefined)
}

async function listener(
  opts: Parameters<ReturnType<typeof testnet>['networker']>[0] = {},
): Promise<{
  networker: Networker
  port: number
  errors: NetworkerError[]
}> {
  const { networker } = await testnet().networker({ handshakeTimeout: HANDSHAKE_TIMEOUT, ...opts })
  await networker.listen({ tcp: { host: '127.0.0.1', port: 0 } })
  const errors: NetworkerError[] = []
  networker.on('transport-error', (err) => errors.push(err))
  return { networker, port: networker.tcpAddress?.port as number, errors }
}

/** A good client: a networker that dials in and must become a peer. */
async function goodClient(port: number): Promise<void> {
  const { networker } = await testnet().networker()
  const peer = await networker.connect(`127.0.0.1:${port}`)
  expect(peer.type).toBe('tcp')
  await networker.close()
}

describe('a TCP listener under bad input', () => {
  it('closes a client that never finishes the handshake at the handshake timeout, serving others meanwhile', async () => {
    const { networker, port, errors } = await listener()
    const silent = await rawSocket(port)
    const openedAt = Date.now()
    await eventually(() => networker.diagnostics().pendingHandshakes === 1, 'handshaking')
    await goodClient(port)
    await closed(silent)
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT - 50)
    expect(Date.now() - openedAt).toBeLessThan(HANDSHAKE_TIMEOUT + 2000)
    await eventually(() => errors.length === 1, 'reported')
    expect(errors[0]?.code).toBe(ErrorCode.HANDSHAKE_TIMEOUT)
    expect(networker.stats().totals).toMatchObject({ handshakeTimeouts: 1, handshakesFailed: 0 })
    expect(networker.diagnostics().pendingHandshakes).toBeUndefined()
  })

  it('closes clients that send garbage: bytes that are not Noise fail it, an HTTP request times out', async () => {
    const { networker, port, errors } = await listener()
    // Two well-framed messages of nonsense: the first reads as an ephemeral key, the second
    // cannot be decrypted, so the handshake fails at once.
    const noise = await rawSocket(port)
    noise.write(b4a.concat([b4a.from([32, 0, 0]), crypto.randomBytes(32)]))
    noise.write(b4a.concat([b4a.from([80, 0, 0]), crypto.randomBytes(80)]))
    const http = await rawSocket(port)
    // Read as a frame length, 'GET' is 5.5 MB that never comes: the handshake timeout ends it.
    http.write('GET / HTTP/1.1\r\nHost: example\r\n\r\n')
    const garbage = await rawSocket(port)
    garbage.write(crypto.randomBytes(4096))
    await Promise.all([closed(noise), closed(http), closed(garbage)])
    await goodClient(port)
    await eventually(() => errors.length === 3, 'each reported')
    const totals = networker.stats().totals
    expect(totals.handshakesFailed).toBeGreaterThanOrEqual(1)
    expect(totals.handshakesFailed + totals.handshakeTimeouts).toBe(3)
    expect(errors.map((e) => e.code)).toContain(ErrorCode.HANDSHAKE_FAILED)
    for (const err of errors) {
      expect([ErrorCode.HANDSHAKE_FAILED, ErrorCode.HANDSHAKE_TIMEOUT]).toContain(err.code)
    }
    expect(networker.peers.size).toBe(0)
  })

  it('closes a client that streams a huge handshake frame once it passes the byte cap, long before the timeout', async () => {
    // A handshake timeout far beyond the test: only the byte cap can end this client.
    const registry = new Registry()
    const { networker, port, errors } = await listener({
      handshakeTimeout: 60_000,
      metrics: registry,
    })
    const hog = await rawSocket(port)
    // A frame header announcing 16 MiB - 1 (secret-stream's largest), then its bytes.
    hog.write(b4a.from([0xff, 0xff, 0xff]))
    const chunk = crypto.randomBytes(64 * 1024)
    let sent = 0
    const startedAt = Date.now()
    while (!hog.destroyed && sent < 8 * 1024 * 1024) {
      // A reset when the cap strikes is the expected end, not a failure of the test.
      if (!hog.write(chunk)) await Promise.race([once(hog, 'drain'), closed(hog)]).catch(() => {})
      sent += chunk.byteLength
    }
    await closed(hog)
    expect(Date.now() - startedAt).toBeLessThan(10_000)
    // The cap (1 MiB) plus what the kernel's buffers held when it struck.
    expect(sent).toBeLessThan(8 * 1024 * 1024)
    await goodClient(port)
    await eventually(() => errors.length === 1, 'reported')
    expect(errors[0]?.code).toBe(ErrorCode.HANDSHAKE_FAILED)
    expect(networker.stats().totals.handshakesFailed).toBe(1)
    // The same count in Prometheus, with the other results at zero.
    const scrape = await registry.metrics()
    expect(scrape).toContain('chainstore_networker_handshakes_unfinished_total{result="failed"} 1')
    expect(scrape).toContain('chainstore_networker_handshakes_unfinished_total{result="timeout"} 0')
    await eventually(
      () => networker.diagnostics().pendingHandshakes === undefined,
      'no handshake left',
    )
  })

  it('thousands of connects from one address are capped per address: the rest are closed at once and counted, others are served', async () => {
    const { networker, port, errors } = await listener({ maxPendingHandshakesPerHost: 8 })
    const flood: Socket[] = []
    let mostPending = 0
    const served = goodClientDuring()
    // In batches under the kernel's accept backlog, so that every socket reaches us.
    for (let batch = 0; batch < 10; batch++) {
      const sockets = Array.from({ length: 200 }, () => {
        const socket = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' })
        socket.on('error', () => {})
        return socket
      })
      flood.push(...sockets)
      await Promise.all(sockets.map((socket) => once(socket, 'connect')))
      mostPending = Math.max(mostPending, networker.diagnostics().pendingHandshakes ?? 0)
    }
    // Every one of the 2000 is refused at once, times out, or is still in its handshake.
    const accounted = (): number => {
      const { handshakesRefused, handshakeTimeouts } = networker.stats().totals
      return (
        handshakesRefused + handshakeTimeouts + (networker.diagnostics().pendingHandshakes ?? 0)
      )
    }
    await eventually(() => accounted() === 2000, 'every socket of the flood accounted for')
    const { handshakesRefused } = networker.stats().totals
    expect(handshakesRefused).toBeGreaterThan(1900)
    expect(mostPending).toBeLessThanOrEqual(8)
    expect(errors.filter((e) => e.code === ErrorCode.HANDSHAKE_LIMIT).length).toBe(
      handshakesRefused,
    )
    await served
    for (const socket of flood) socket.destroy()
    async function goodClientDuring(): Promise<void> {
      // A good client in the middle of the flood, from its own address.
      await new Promise((r) => setTimeout(r, 50))
      await goodClient(port)
    }
    await goodClient(port)
    await eventually(
      () => networker.diagnostics().pendingHandshakes === undefined,
      'the capped few timed out too',
    )
  })

  it('caps unfinished handshakes overall: past the cap sockets are closed at once, and once they time out others get in', async () => {
    const { networker, port } = await listener({ maxPendingHandshakes: 16 })
    // One silent socket from each of 40 addresses: under the per-address cap, over the total.
    const sockets = await Promise.all(
      Array.from({ length: 40 }, (_, i) => rawSocket(port, `127.0.0.${10 + i}`)),
    )
    await eventually(
      () => networker.stats().totals.handshakesRefused === 24,
      'all past the cap refused',
    )
    expect(networker.diagnostics().pendingHandshakes).toBe(16)
    await Promise.all(sockets.map(closed))
    expect(networker.stats().totals.handshakeTimeouts).toBe(16)
    await goodClient(port)
  })

  it('close() closes the listener and every socket in its handshake, and diagnostics return to zero', async () => {
    const { networker, port } = await listener({ handshakeTimeout: 30_000 })
    const silent = await Promise.all([rawSocket(port), rawSocket(port, '127.0.0.3')])
    await eventually(() => networker.diagnostics().pendingHandshakes === 2, 'handshaking')
    await networker.close()
    await Promise.all(silent.map(closed))
    expect(networker.tcpAddress).toBeNull()
    expect(networker.diagnostics()).toEqual({
      connections: 0,
      pendingConnections: 0,
      peers: 0,
      timers: 0,
      extensionChannels: 0,
    })
    const late = connect({ host: '127.0.0.1', port })
    const [err] = (await once(late, 'error')) as [NodeJS.ErrnoException]
    expect(err.code).toBe('ECONNREFUSED')
  })

  it('checks the TCP options at the call, and a port in use is LISTEN_FAILED', async () => {
    const net = testnet()
    for (const bad of [
      ['nope'],
      ['host:99999'],
      [{ host: '', port: 1 }],
      'x:1',
      [{ host: 'a', port: 1, publicKey: 'zz' }],
    ]) {
      await expect(net.networker({ directPeers: bad as never })).rejects.toMatchObject({
        code: expect.stringMatching(/^INVALID_(OPTION|PUBLIC_KEY)$/),
      })
    }
    await expect(net.networker({ maxPendingHandshakes: 0 })).rejects.toMatchObject({
      code: ErrorCode.INVALID_OPTION,
    })
    const { networker, port } = await listener()
    await expect(networker.listen({ tcp: { port: -1 } })).rejects.toMatchObject({
      code: ErrorCode.INVALID_OPTION,
    })
    const { networker: other } = await net.networker()
    await expect(other.listen({ tcp: { host: '127.0.0.1', port } })).rejects.toMatchObject({
      code: ErrorCode.LISTEN_FAILED,
    })
    expect(other.tcpAddress).toBeNull()
  })
})
