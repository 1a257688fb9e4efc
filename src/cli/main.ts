import { parseArgs } from 'node:util'
import { parseBootstrap } from './bootstrap.js'
import { CliError } from './cli-error.js'
import { getCommand } from './commands/get.js'
import { putCommand } from './commands/put.js'
import { seedCommand } from './commands/seed.js'
import { statusCommand } from './commands/status.js'
import { testnetCommand } from './commands/testnet.js'
import { runDemo } from './demo.js'
import { Output } from './output.js'

const SHARED = `Shared flags:
  --bootstrap host:port[,host:port…]  DHT bootstrap nodes (binds to 127.0.0.1 when all are on loopback)
  --json                              one JSON event per line instead of human output
  --quiet                             only the result and errors
  --help                              this help`

const HELP: Record<string, string> = {
  main: `chainstore-networker: share and fetch Corestore cores over Hyperswarm

Commands:
  demo [--peers N] [--blocks N]            a private testnet in-process: one writer, the rest replicate
  testnet [--nodes N] [--port P]           run a local HyperDHT bootstrap on loopback and print its address
  put <file|-> --storage <dir>             append a file (or stdin) to a new core, print its key, seed it
  seed --storage <dir> [--key <hex>...]    announce and serve cores (default: all that put wrote)
  get <key> --storage <dir> [--out <file|->] [--live]
                                           fetch a whole core with progress, write it out, verify it
  status --storage <dir>                   what a storage directory holds

${SHARED}

Examples:
  chainstore-networker demo --peers 5
  chainstore-networker testnet --port 49737
  chainstore-networker put ./photo.jpg --storage ./a --bootstrap 127.0.0.1:49737
  chainstore-networker get <key> --storage ./b --out ./copy.jpg --bootstrap 127.0.0.1:49737
`,
  demo: `chainstore-networker demo [--peers N] [--blocks N] [--json|--quiet]
  An embedded local testnet, N networkers (default 3), one writer appending N blocks
  (default 200, 4 KiB each); prints peers joining and blocks arriving, then a summary.

Examples:
  chainstore-networker demo
  chainstore-networker demo --peers 5 --blocks 1000 --json`,
  testnet: `chainstore-networker testnet [--nodes N] [--port P] [--json]
  A local HyperDHT bootstrap of N nodes (default 3) on 127.0.0.1; prints the address to
  pass as --bootstrap in other terminals. Ctrl-C stops it.

Examples:
  chainstore-networker testnet --port 49737
  chainstore-networker testnet --nodes 5 --json`,
  put: `chainstore-networker put <file|-> --storage <dir> [--block-size BYTES] [--bootstrap …]
  Appends the file (or stdin with -) to a new core in blocks (default 65536 bytes), prints
  the core's key, and seeds it until Ctrl-C.

Examples:
  chainstore-networker put ./photo.jpg --storage ./a --bootstrap 127.0.0.1:49737
  tar c ./dir | chainstore-networker put - --storage ./a --bootstrap 127.0.0.1:49737`,
  seed: `chainstore-networker seed --storage <dir> [--key <hex>...] [--bootstrap …]
  Announces and serves the cores (default: every core this storage wrote); prints peers
  as they come and go and bytes served, until Ctrl-C.

Examples:
  chainstore-networker seed --storage ./a --bootstrap 127.0.0.1:49737
  chainstore-networker seed --storage ./b --key <hex> --key <hex> --bootstrap 127.0.0.1:49737`,
  get: `chainstore-networker get <key> --storage <dir> [--out <file|->] [--live] [--timeout SECONDS] [--bootstrap …]
  Looks the core up, replicates all of it with a progress bar, writes it (default: stdout,
  with messages on stderr), verifies its length. --timeout (default 30) bounds the wait for
  a peer that has the core; --live keeps following new blocks until Ctrl-C.

Examples:
  chainstore-networker get <key> --storage ./b --out ./copy.jpg --bootstrap 127.0.0.1:49737
  chainstore-networker get <key> --storage ./b --quiet --bootstrap 127.0.0.1:49737 > copy.jpg`,
  status: `chainstore-networker status --storage <dir> [--json]
  Every core the storage directory holds: written here or a replica, blocks held, bytes.
  Topic configurations are not remembered yet, so none are listed.

Examples:
  chainstore-networker status --storage ./a
  chainstore-networker status --storage ./a --json`,
}

function positiveInt(value: unknown, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < min)
    throw new CliError(`--${name} must be a whole number ≥ ${min}, got '${String(value)}'`)
  return n
}

function required(value: unknown, flag: string, command: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new CliError(`${command} needs ${flag} (see ${command} --help)`)
  return value
}

export async function main(argv: string[]): Promise<void> {
  let parsed: ReturnType<typeof parse>
  function parse() {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        peers: { type: 'string' },
        blocks: { type: 'string' },
        nodes: { type: 'string' },
        port: { type: 'string' },
        storage: { type: 'string' },
        key: { type: 'string', multiple: true },
        out: { type: 'string' },
        live: { type: 'boolean', default: false },
        timeout: { type: 'string' },
        'block-size': { type: 'string' },
        bootstrap: { type: 'string' },
        json: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
  }
  try {
    parsed = parse()
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err))
  }
  const { values, positionals } = parsed
  const [command, ...args] = positionals
  // When get writes the content to stdout, everything else goes to stderr so the data stays clean.
  const contentOnStdout = command === 'get' && (values.out === undefined || values.out === '-')
  const out = new Output(
    { json: values.json, quiet: values.quiet },
    contentOnStdout ? process.stderr : process.stdout,
  )
  if (command === undefined || command === 'help') {
    process.stdout.write(HELP.main as string)
    return
  }
  if (!(command in HELP) || command === 'main')
    throw new CliError(`unknown command '${command}' (see --help)`)
  if (values.help) {
    process.stdout.write(`${HELP[command]}\n\n${SHARED}\n`)
    return
  }
  const bootstrap = parseBootstrap(values.bootstrap)
  switch (command) {
    case 'demo': {
      const peers = positiveInt(values.peers, 'peers', 3, 2)
      const blocks = positiveInt(values.blocks, 'blocks', 200)
      const summary = await runDemo({
        peers,
        blocks,
        blockSize: 4096,
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
      await testnetCommand({
        nodes: positiveInt(values.nodes, 'nodes', 3),
        port: values.port === undefined ? undefined : positiveInt(values.port, 'port', 0, 1),
        out,
      })
      return
    case 'put':
      if (args[0] === undefined)
        throw new CliError('put needs a file, or - for stdin (see put --help)')
      await putCommand({
        source: args[0],
        storage: required(values.storage, '--storage <dir>', 'put'),
        blockSize: positiveInt(values['block-size'], 'block-size', 65536),
        bootstrap,
        out,
      })
      return
    case 'seed':
      await seedCommand({
        storage: required(values.storage, '--storage <dir>', 'seed'),
        keys: values.key ?? [],
        bootstrap,
        out,
      })
      return
    case 'get':
      await getCommand({
        key: required(args[0], '<key>', 'get'),
        storage: required(values.storage, '--storage <dir>', 'get'),
        outFile: values.out ?? null,
        live: values.live,
        timeout: positiveInt(values.timeout, 'timeout', 30) * 1000,
        bootstrap,
        out,
      })
      return
    case 'status':
      await statusCommand({ storage: required(values.storage, '--storage <dir>', 'status'), out })
      return
  }
}

function describeDemo(e: Record<string, unknown>): string {
  switch (e.event) {
    case 'testnet':
      return `testnet      private HyperDHT on ${(e.bootstrap as string[]).join(', ')}`
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
