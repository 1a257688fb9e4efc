import { createLocalTestnet } from '../../testnet.js'
import { CliError } from '../cli-error.js'
import type { Output } from '../output.js'
import { untilInterrupted } from '../shutdown.js'

/** A private HyperDHT bootstrap on loopback, for several terminals to share with --bootstrap. */
export async function testnetCommand(opts: {
  nodes: number
  port: number | undefined
  out: Output
}): Promise<never> {
  const testnet = await createLocalTestnet(opts.nodes, {
    ...(opts.port === undefined ? {} : { port: opts.port }),
  })
  // HyperDHT moves to another port when the one asked for is taken: an explicit --port
  // that did not bind is an error, not a silently different address.
  const bound = Number(testnet.bootstrap[0]?.split(':')[1])
  if (opts.port !== undefined && bound !== opts.port) {
    await testnet.destroy()
    throw new CliError(`port ${opts.port} on 127.0.0.1 is in use; pick another --port`)
  }
  const bootstrap = testnet.bootstrap.join(',')
  opts.out.result(
    { event: 'testnet', bootstrap, nodes: opts.nodes },
    `testnet running with ${opts.nodes} DHT nodes on loopback\n  --bootstrap ${bootstrap}\nCtrl-C to stop.`,
  )
  return untilInterrupted(() => testnet.destroy())
}
