import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { Duplex as NodeDuplex } from 'node:stream'
import b4a from 'b4a'
import type Corestore from 'corestore'
import crypto from 'hypercore-crypto'
import { Duplex } from 'streamx'
import { createWebSocketStream, WebSocket, WebSocketServer } from 'ws'
import type { Networker, NetworkerPeer } from '../../src/index.js'
import { eventually } from '../helpers/real-network.js'

/**
 * Streams and checks the transport tests share: an in-process duplex pair, a real
 * WebSocket pair, and "these two networkers replicate a core and exchange an extension
 * message over the peer they hold for each other".
 */

/** Two streamx duplexes wired back to back: what one writes the other reads. */
export function duplexPair(): [Duplex, Duplex] {
  let a: Duplex | null = null
  let b: Duplex | null = null
  const make = (other: () => Duplex | null): Duplex =>
    new Duplex({
      write(data, cb) {
        other()?.push(data)
        cb(null)
      },
      final(cb) {
        other()?.push(null)
        cb(null)
      },
      predestroy() {
        other()?.destroy()
      },
    })
  a = make(() => b)
  b = make(() => a)
  return [a, b]
}

/** A real WebSocket pair over loopback, each end as a Node duplex (`createWebSocketStream`). */
export async function webSocketPair(): Promise<{
  client: NodeDuplex
  server: NodeDuplex
  close(): Promise<void>
}> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(wss, 'listening')
  const { port } = wss.address() as AddressInfo
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>
  const socket = new WebSocket(`ws://127.0.0.1:${port}`)
  await once(socket, 'open')
  const [serverSocket] = await accepted
  return {
    client: createWebSocketStream(socket),
    server: createWebSocketStream(serverSocket),
    close: async () => {
      socket.terminate()
      serverSocket.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    },
  }
}

/**
 * `a`'s store writes a core, `b`'s reads it through their connection, and an extension
 * message goes each way over the peers they list for each other.
 */
export async function replicatesAndTalks(
  a: { networker: Networker; store: Corestore },
  b: { networker: Networker; store: Corestore },
): Promise<void> {
  const written = a.store.get({ name: `core-${b4a.toString(crypto.randomBytes(4), 'hex')}` })
  await written.ready()
  await written.append([b4a.from('over'), b4a.from('adopted')])
  const read = b.store.get({ key: written.key as Buffer })
  await read.ready()
  const block = await read.get(1)
  if (block === null || b4a.toString(block) !== 'adopted') throw new Error('not replicated')

  const heard: string[] = []
  const name = `ping-${b4a.toString(crypto.randomBytes(4), 'hex')}`
  const extA = a.networker.registerExtension(name, {
    encoding: 'utf8',
    onmessage: (m: string) => heard.push(`a:${m}`),
  })
  const extB = b.networker.registerExtension(name, {
    encoding: 'utf8',
    onmessage: (m: string) => heard.push(`b:${m}`),
  })
  const peerAB = listed(a.networker, b.networker)
  const peerBA = listed(b.networker, a.networker)
  await eventually(() => extA.has(peerAB) && extB.has(peerBA), 'both ends have the extension')
  extA.send('hello b', peerAB)
  extB.send('hello a', peerBA)
  await eventually(() => heard.length === 2, 'an extension message each way', 10_000)
  if (!heard.includes('b:hello b') || !heard.includes('a:hello a')) {
    throw new Error(`wrong messages: ${heard.join(', ')}`)
  }
}

/** The peer `from` lists for `to`'s key (throws if none). */
export function listed(from: Networker, to: Networker): NetworkerPeer {
  const peer = from.getPeer(to.keyPair.publicKey)
  if (peer === null) throw new Error('not connected')
  return peer
}
