import {
  type Command,
  noMoreArgs,
  packageVersion,
  parseCommandLine,
  required,
  type Values,
  wholeNumber,
} from './args.js'
import { parseBootstrap, parsePeerAddress } from './bootstrap.js'
import { getCommand } from './commands/get.js'
import { MAX_BLOCK_SIZE, putCommand } from './commands/put.js'
import { seedCommand } from './commands/seed.js'
import { statusCommand } from './commands/status.js'
import { testnetCommand } from './commands/testnet.js'
import { forgetCommand, topicsCommand } from './commands/topics.js'
import { runDemo } from './demo.js'
import { commandHelp, MAIN_HELP } from './help.js'
import { parseMetricsAddress } from './metrics-server.js'
import { Output } from './output.js'
import type { DirectOptions } from './session.js'

export async function main(argv: string[]): Promise<void> {
  const { command, args, values } = parseCommandLine(argv)
  if (values.version) {
    process.stdout.write(`${packageVersion()}\n`)
    return
  }
  if (command === undefined) {
    process.stdout.write(MAIN_HELP)
    return
  }
  if (values.help) {
    process.stdout.write(commandHelp(command))
    return
  }
  // When get writes the content to stdout, everything else goes to stderr so the data stays clean.
  const contentOnStdout = command === 'get' && (values.out === undefined || values.out === '-')
  const out = new Output(
    { json: values.json === true, quiet: values.quiet === true },
    contentOnStdout ? process.stderr : process.stdout,
  )
  await run(command, args, values, out)
}

async function run(command: Command, args: string[], values: Values, out: Output): Promise<void> {
  const storage = (): string => required(values.storage, '--storage <dir>', command)
  // --lan, --tcp <port>, --peer host:port: checked here, before anything is opened.
  const direct = (): DirectOptions => ({
    lan: values.lan === true,
    tcpPort:
      values.tcp === undefined
        ? null
        : wholeNumber(values.tcp, 'tcp', command, { fallback: 0, min: 0, max: 65535 }),
    peers: (values.peer ?? []).map((p) => parsePeerAddress(p, command)),
  })
  // --metrics and --stats, for the commands that take them.
  const watch = () => ({
    metrics: parseMetricsAddress(values.metrics, command),
    stats: values.stats === true,
  })
  switch (command) {
    case 'demo': {
      noMoreArgs(args, 0, command)
      const peers = wholeNumber(values.peers, 'peers', command, { fallback: 3, min: 2 })
      const blocks = wholeNumber(values.blocks, 'blocks', command, { fallback: 200 })
      const { lan, tcpPort } = direct()
      const summary = await runDemo({
        peers,
        blocks,
        lan,
        tcpPort,
        blockSize: 4096,
        metrics: watch().metrics,
        out,
        log: (e) => out.event(e, describeDemo(e)),
      })
      const mib = summary.bytes / (1024 * 1024)
      out.result(
        { event: 'summary', ...summary },
        [
          '',
          'summary',
          `  networkers         ${summary.peers} (1 writer, ${summary.peers - 1} readers)`,
          `  replicated         ${summary.blocks} blocks, ${mib.toFixed(2)} MiB to each reader`,
          `  first block        ${summary.firstBlockMs.toFixed(0)} ms after configure`,
          `  all blocks         ${summary.allBlocksMs.toFixed(0)} ms after configure (${(((summary.peers - 1) * mib) / (summary.allBlocksMs / 1000)).toFixed(1)} MiB/s in all)`,
          `  total              ${summary.totalMs.toFixed(0)} ms, testnet included`,
        ].join('\n'),
      )
      return
    }
    case 'testnet':
      noMoreArgs(args, 0, command)
      await testnetCommand({
        nodes: wholeNumber(values.nodes, 'nodes', command, { fallback: 3 }),
        port:
          values.port === undefined
            ? undefined
            : wholeNumber(values.port, 'port', command, { fallback: 0, max: 65535 }),
        out,
      })
      return
    case 'put':
      noMoreArgs(args, 1, command)
      await putCommand({
        source: required(args[0], 'a file, or - for stdin', command),
        storage: storage(),
        blockSize: wholeNumber(values['block-size'], 'block-size', command, {
          fallback: 65536,
          max: MAX_BLOCK_SIZE,
          why: " (15 MiB, Hypercore's largest block)",
        }),
        bootstrap: parseBootstrap(values.bootstrap),
        direct: direct(),
        out,
      })
      return
    case 'seed':
      noMoreArgs(args, 0, command)
      await seedCommand({
        storage: storage(),
        keys: values.key ?? [],
        bootstrap: parseBootstrap(values.bootstrap),
        direct: direct(),
        ...watch(),
        out,
      })
      return
    case 'get':
      noMoreArgs(args, 1, command)
      await getCommand({
        key: required(args[0], '<key>', command),
        storage: storage(),
        outFile: values.out ?? null,
        live: values.live === true,
        timeout: wholeNumber(values.timeout, 'timeout', command, { fallback: 30 }) * 1000,
        bootstrap: parseBootstrap(values.bootstrap),
        direct: direct(),
        ...watch(),
        out,
      })
      return
    case 'status':
      noMoreArgs(args, 0, command)
      await statusCommand({ storage: storage(), out })
      return
    case 'topics':
      noMoreArgs(args, 0, command)
      await topicsCommand({ storage: storage(), out })
      return
    case 'forget':
      await forgetCommand({ storage: storage(), keys: args, all: values.all === true, out })
      return
  }
}

function describeDemo(e: Record<string, unknown>): string {
  switch (e.event) {
    case 'testnet':
      return `testnet      private HyperDHT on ${(e.bootstrap as string[]).join(', ')}`
    case 'lan':
      return 'lan          no DHT: every networker finds the others by mDNS on this machine'
    case 'listening':
      return `writer       accepting TCP on ${e.address}`
    case 'dialed':
      return `${String(e.node).padEnd(12)} dialed the writer at ${e.address} (${e.transport})`
    case 'written':
      return `writer       appended ${e.blocks} blocks (${e.bytes} bytes) to core ${String(e.key).slice(0, 16)}…`
    case 'announced':
      return `writer       announced discovery key ${String(e.discoveryKey).slice(0, 16)}…`
    case 'peer-add':
      return `${String(e.node).padEnd(12)} + peer ${e.peer} over ${e.transport}`
    case 'peer-remove':
      return `${String(e.node).padEnd(12)} - peer ${e.peer}`
    case 'configured':
      return `${String(e.node).padEnd(12)} configured: ${e.peers} peer(s) after flush`
    case 'progress':
      return `${String(e.node).padEnd(12)} ${e.blocks}/${e.of} blocks`
    case 'complete':
      return `${String(e.node).padEnd(12)} complete: ${e.blocks} blocks verified`
    default:
      return JSON.stringify(e)
  }
}
