import DHT from 'hyperdht'
import { isLoopback, localDht } from '../testnet.js'
import { CliError } from './cli-error.js'

export interface BootstrapNode {
  host: string
  port: number
}

export function parseBootstrap(value: string | undefined): BootstrapNode[] | null {
  if (value === undefined) return null
  const nodes = value.split(',').map((part) => {
    const m = /^([^:\s]+):(\d{1,5})$/.exec(part.trim())
    const port = m === null ? Number.NaN : Number(m[2])
    if (m === null || !(port > 0 && port < 65536)) {
      throw new CliError(`--bootstrap wants host:port[,host:port…], got '${part}'; see --help`)
    }
    return { host: m[1] as string, port }
  })
  return nodes
}

/** How long a command whose peers may come from elsewhere (--lan, --peer) waits for the DHT. */
const OPTIONAL_DHT_WAIT_MS = 3000

/**
 * A DHT node that knows no other and sends nothing anywhere, bound to loopback: the swarm
 * of a networker whose peers come only from the LAN or from addresses given (`demo --lan`,
 * `get --peer` alone).
 */
export function isolatedDht(): DHT {
  return new DHT({ bootstrap: [], host: '127.0.0.1', ephemeral: true })
}

/** `--peer host:port` (a seed's --tcp address): checked before anything is opened. */
export function parsePeerAddress(value: string, command: string): string {
  const m = /^([^:\s]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(value.trim())
  const port = m === null ? Number.NaN : Number(m[2])
  if (m === null || !(port > 0 && port < 65536)) {
    throw new CliError(`--peer wants host:port, got '${value}'; see ${command} --help`)
  }
  return `${m[1]}:${port}`
}

/**
 * A DHT node for the swarm. When every bootstrap node is on loopback it binds to 127.0.0.1:
 * a node bound to 0.0.0.0 cannot be reached by a local peer on these machines. Fails with
 * a one-line error when no bootstrap node answers, unless the DHT is not `required` (peers
 * come from the LAN or a known address): then `offline` is told and the node kept.
 */
export async function openDht(
  bootstrap: BootstrapNode[] | null,
  opts: { required: boolean; offline?: () => void } = { required: true },
): Promise<DHT> {
  if (bootstrap !== null && bootstrap.length === 0) {
    opts.offline?.()
    return isolatedDht()
  }
  const nodes = bootstrap ?? undefined
  const local = nodes?.every((n) => isLoopback(n.host)) ?? false
  // On loopback every peer is directly reachable: localDht says so and skips the holepunch
  // and relay path, which loses connections between separate processes here. A CLI peer is
  // a client of the DHT, not a routing node (ephemeral), as testnet.createNode() makes them.
  const dht =
    nodes !== undefined && local
      ? localDht(nodes)
      : new DHT({ ...(nodes === undefined ? {} : { bootstrap: nodes }), ephemeral: true })
  if (opts.required) {
    await dht.fullyBootstrapped()
  } else {
    // With no internet a DHT takes 10–15 s to give up on its bootstrap nodes; the LAN needs
    // none of it, so wait a little only, and let the DHT go on bootstrapping behind.
    let timer: NodeJS.Timeout | undefined
    const patience = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, OPTIONAL_DHT_WAIT_MS)
    })
    await Promise.race([dht.fullyBootstrapped(), patience])
    clearTimeout(timer)
  }
  const table = (dht as unknown as { table: { size?: number; toArray?: () => unknown[] } }).table
  const size = table.size ?? table.toArray?.().length ?? 0
  if (size === 0 && !opts.required) {
    opts.offline?.()
    return dht
  }
  if (size === 0) {
    await dht.destroy()
    const where =
      nodes === undefined
        ? 'the public bootstrap nodes'
        : nodes.map((n) => `${n.host}:${n.port}`).join(', ')
    throw new CliError(
      `cannot reach ${where}: no DHT node answered (is the testnet running? see --bootstrap)`,
    )
  }
  return dht
}
