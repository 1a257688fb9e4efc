// Two networkers on a private local testnet exchange chat messages over an extension,
// on the same connection that replicates their store. Run: npm run build && node examples/extension-chat.mjs

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import createTestnet from '@hyperswarm/testnet'
import Networker from '@web4/chainstore-networker'
import Corestore from 'corestore'
import crypto from 'hypercore-crypto'

const testnet = await createTestnet(3)
const dirs = [mkdtempSync(join(tmpdir(), 'chat-')), mkdtempSync(join(tmpdir(), 'chat-'))]
const [alice, bob] = dirs.map(
  (dir) => new Networker(new Corestore(dir), { dht: testnet.createNode() }),
)

// Both register the same extension name; whichever side registers later opens the channel.
const chatA = alice.registerExtension('chat', {
  encoding: 'json',
  onmessage: (msg, peer) => {
    console.log(
      `alice got ${JSON.stringify(msg)} from ${peer.remotePublicKey.toString('hex').slice(0, 8)}`,
    )
    chatA.send({ text: `echo: ${msg.text}` }, peer) // answer on the same connection
  },
})
const replies = new Promise((resolve) => {
  bob.registerExtension('chat', (ext) => {
    ext.on('peer-add', (peer) => ext.send({ text: 'hi alice' }, peer)) // alice can hear us now
    return { encoding: 'json', onmessage: (msg) => resolve(msg) }
  })
})

const topic = crypto.randomBytes(32) // usually a core's discoveryKey
await alice.configure(topic, { announce: true, lookup: false })
await bob.configure(topic, { announce: false, lookup: true })

console.log('bob got', JSON.stringify(await replies))
await Promise.all([alice.close(), bob.close()])
await Promise.all([alice.store.close(), bob.store.close()])
await testnet.destroy()
for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
