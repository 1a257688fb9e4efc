import crypto from 'hypercore-crypto'
import { describe, expect, it } from 'vitest'
import type { NetworkerPeer } from '../../src/index.js'
import { cleanup, compatNetwork, delay, keyOf, within } from './helpers.js'

/*
 * The extension tests of the original @corestore/networker 1.2.1 (test/all.js at 6499156),
 * on real Hyperswarm 4 and Corestore 7: every sender sends from the networker's 'peer-add',
 * as the original does. The receiver's checks (sender and message, in order: networker2's
 * before networker3's, since networker2 configures first) are made on what onmessage saw, in
 * the order it saw it: an expect() throwing inside onmessage would be caught by the
 * networker as a handler failure instead of failing the test.
 */

const create = compatNetwork()

/** The original's onmessage: collects (sender, message) in arrival order until `count` came. */
function receiver<T>(count: number): {
  onmessage: (msg: T, from: NetworkerPeer) => void
  allReceivedProm: Promise<{ from: string; msg: T }[]>
} {
  const got: { from: string; msg: T }[] = []
  let onmessage: (msg: T, from: NetworkerPeer) => void = () => {}
  const allReceivedProm = new Promise<{ from: string; msg: T }[]>((resolve) => {
    onmessage = (msg, from) => {
      got.push({ from: keyOf(from.remotePublicKey), msg })
      if (got.length === count) resolve(got)
    }
  })
  return { onmessage, allReceivedProm }
}

/** The original's per-message assertions, on the messages in the order they arrived. */
function checkReceived<T>(got: { from: string; msg: T }[], froms: Uint8Array[], msgs: T[]): void {
  got.forEach(({ from, msg }, received) => {
    expect(from).toBe(keyOf(froms[received]!))
    expect(msg).toEqual(msgs[received])
  })
}

describe('original test/all.js: extensions', () => {
  it('can register stream-wide extensions', async () => {
    const { networker: networker1 } = await create()
    const { networker: networker2 } = await create()
    const { networker: networker3 } = await create()

    const froms = [networker2.keyPair.publicKey, networker3.keyPair.publicKey]
    const msgs = ['hello', 'world']
    const { onmessage, allReceivedProm } = receiver<string>(froms.length)

    const extension = {
      name: 'test-extension',
      encoding: 'utf8' as const,
      onmessage,
    }
    networker1.registerExtension(extension)
    const n2Ext = networker2.registerExtension(extension)
    const n3Ext = networker3.registerExtension(extension)

    networker2.on('peer-add', (peer) => {
      n2Ext.send('hello', peer)
    })
    networker3.on('peer-add', (peer) => {
      n3Ext.send('world', peer)
    })
    const dkey = crypto.randomBytes(32)
    await networker1.configure(dkey)
    await networker2.configure(dkey, { announce: false, lookup: true, flush: true })
    await networker3.configure(dkey, { announce: false, lookup: true, flush: true })

    await delay(100)
    checkReceived(await within(allReceivedProm, 'both messages'), froms, msgs)

    await cleanup([networker1, networker2, networker3])
  })

  it('can register extensions with the same name', async () => {
    const { networker: networker1 } = await create()
    const { networker: networker2 } = await create()
    const { networker: networker3 } = await create()

    const froms = [networker2.keyPair.publicKey, networker3.keyPair.publicKey]
    const msgs = ['hello', 'world']
    const { onmessage, allReceivedProm } = receiver<string>(froms.length)

    const extensionOne = {
      name: 'test-extension',
      encoding: 'utf8' as const,
      onmessage,
    }
    const extensionTwo = {
      name: 'test-extension',
      encoding: 'utf8' as const,
      onmessage,
    }
    networker1.registerExtension(extensionOne)
    networker1.registerExtension(extensionTwo)
    const n2Ext = networker2.registerExtension(extensionTwo)
    const n3Ext = networker3.registerExtension(extensionTwo)

    networker2.on('peer-add', (peer) => {
      n2Ext.send('hello', peer)
    })
    networker3.on('peer-add', (peer) => {
      n3Ext.send('world', peer)
    })
    const dkey = crypto.randomBytes(32)
    await networker1.configure(dkey)
    await networker2.configure(dkey, { announce: false, lookup: true, flush: true })
    await networker3.configure(dkey, { announce: false, lookup: true, flush: true })

    await delay(100)
    checkReceived(await within(allReceivedProm, 'both messages'), froms, msgs)

    await cleanup([networker1, networker2, networker3])
  })

  it('can register function based extensions', async () => {
    const { networker: networker1 } = await create()
    const { networker: networker2 } = await create()
    const { networker: networker3 } = await create()

    const froms = [networker2.keyPair.publicKey, networker3.keyPair.publicKey]
    const msgs = ['hello', 'world']
    const { onmessage, allReceivedProm } = receiver<string>(froms.length)

    const extension = () => ({
      encoding: 'utf8' as const,
      onmessage,
    })

    // Note: Must use name outside of the function handler for now
    networker1.registerExtension('test-extension', extension)
    const n2Ext = networker2.registerExtension('test-extension', extension)
    const n3Ext = networker3.registerExtension('test-extension', extension)

    networker2.on('peer-add', (peer) => {
      n2Ext.send('hello', peer)
    })
    networker3.on('peer-add', (peer) => {
      n3Ext.send('world', peer)
    })
    const dkey = crypto.randomBytes(32)
    await networker1.configure(dkey)
    await networker2.configure(dkey, { announce: false, lookup: true, flush: true })
    await networker3.configure(dkey, { announce: false, lookup: true, flush: true })

    await delay(100)
    checkReceived(await within(allReceivedProm, 'both messages'), froms, msgs)

    await cleanup([networker1, networker2, networker3])
  })

  it('can use other encodings', async () => {
    const { networker: networker1 } = await create()
    const { networker: networker2 } = await create()
    const { networker: networker3 } = await create()

    const froms = [networker2.keyPair.publicKey, networker3.keyPair.publicKey]
    const msgs = [{ message: 'hello' }, { message: 'world' }]
    const { onmessage, allReceivedProm } = receiver<{ message: string }>(froms.length)

    const extension = {
      name: 'test-extension',
      encoding: 'json' as const,
      onmessage,
    }
    networker1.registerExtension(extension)
    const n2Ext = networker2.registerExtension(extension)
    const n3Ext = networker3.registerExtension(extension)

    networker2.on('peer-add', (peer) => {
      n2Ext.send({ message: 'hello' }, peer)
    })
    networker3.on('peer-add', (peer) => {
      n3Ext.send({ message: 'world' }, peer)
    })
    const dkey = crypto.randomBytes(32)
    await networker1.configure(dkey)
    await networker2.configure(dkey, { announce: false, lookup: true, flush: true })
    await networker3.configure(dkey, { announce: false, lookup: true, flush: true })

    await delay(100)
    checkReceived(await within(allReceivedProm, 'both messages'), froms, msgs)

    await cleanup([networker1, networker2, networker3])
  })

  it('bidirectional extension send/receive', async () => {
    const { networker: networker1 } = await create()
    const { networker: networker2 } = await create()

    // What each onmessage saw: the sender's key and the message.
    let first: { from: string; msg: string } | null = null
    let second: { from: string; msg: string } | null = null

    const firstReceivedProm = new Promise<void>((resolve) => {
      const ext = networker1.registerExtension<string>({
        name: 'test-extension',
        encoding: 'utf8',
        onmessage: (msg, from) => {
          first = { from: keyOf(from.remotePublicKey), msg }
          ext.send('world', from)
          resolve()
        },
      })
    })

    const secondReceivedProm = new Promise<void>((resolve) => {
      const ext = networker2.registerExtension<string>({
        name: 'test-extension',
        encoding: 'utf8',
        onmessage: (msg, from) => {
          second = { from: keyOf(from.remotePublicKey), msg }
          resolve()
        },
      })

      networker2.on('peer-add', (peer) => {
        ext.send('hello', peer)
      })
    })

    const dkey = crypto.randomBytes(32)
    await networker1.configure(dkey)
    await networker2.configure(dkey, { announce: false, lookup: true, flush: true })

    await delay(100)

    await within(firstReceivedProm, "networker1 receives 'hello'")
    expect(first).toEqual({ from: keyOf(networker2.keyPair.publicKey), msg: 'hello' })
    await within(secondReceivedProm, "networker2 receives 'world'")
    expect(second).toEqual({ from: keyOf(networker1.keyPair.publicKey), msg: 'world' })

    await cleanup([networker1, networker2])
  })
})
