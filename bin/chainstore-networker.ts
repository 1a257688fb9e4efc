#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { runDemo } from '../src/cli/demo.js'

const USAGE = `chainstore-networker: share and fetch Corestore cores over Hyperswarm

Usage:
  chainstore-networker demo [--peers N] [--blocks N] [--json]
      An embedded local testnet, N networkers, one writer, the rest replicate.

Examples:
  npx chainstore-networker demo
  npx chainstore-networker demo --peers 5 --blocks 1000 --json
`

function fail(message: string): never {
  process.stderr.write(`chainstore-networker: ${message}\n`)
  process.exit(1)
}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1)
    fail(`--${name} must be a positive whole number, got '${value}'`)
  return n
}

async function main(argv: string[]): Promise<void> {
  let parsed: ReturnType<typeof parse>
  const parse = () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        peers: { type: 'string' },
        blocks: { type: 'string' },
        json: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
  try {
    parsed = parse()
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err))
  }
  const { values, positionals } = parsed
  const [command] = positionals
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE)
    return
  }
  if (command !== 'demo') fail(`unknown command '${command}' (see --help)`)

  const peers = positiveInt(values.peers, 'peers', 3)
  if (peers < 2) fail('--peers must be at least 2: one writer and a reader')
  const blocks = positiveInt(values.blocks, 'blocks', 200)
  const log = (event: Record<string, unknown>): void => {
    if (values.json) process.stdout.write(`${JSON.stringify(event)}\n`)
    else if (!values.quiet) process.stdout.write(`${describe(event)}\n`)
  }
  const summary = await runDemo({ peers, blocks, blockSize: 4096, log })
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ event: 'summary', ...summary })}\n`)
    return
  }
  const mib = summary.bytes / (1024 * 1024)
  process.stdout.write(
    [
      '',
      'summary',
      `  networkers         ${summary.peers} (1 writer, ${summary.peers - 1} readers)`,
      `  replicated         ${summary.blocks} blocks, ${mib.toFixed(2)} MiB to each reader`,
      `  first block        ${summary.firstBlockMs.toFixed(0)} ms after configure`,
      `  all blocks         ${summary.allBlocksMs.toFixed(0)} ms after configure (${(((summary.peers - 1) * mib) / (summary.allBlocksMs / 1000)).toFixed(1)} MiB/s in all)`,
      `  total              ${summary.totalMs.toFixed(0)} ms, testnet included`,
      '',
    ].join('\n'),
  )
}

function describe(e: Record<string, unknown>): string {
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

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => fail(err instanceof Error ? err.message : String(err)),
)
