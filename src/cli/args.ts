import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { CliError } from './cli-error.js'

/** The commands, each with the flags it takes (besides --help, --version, --json, --quiet). */
export const COMMANDS = {
  demo: ['peers', 'blocks', 'metrics', 'lan', 'tcp'],
  testnet: ['nodes', 'port'],
  put: ['storage', 'block-size', 'bootstrap', 'lan', 'tcp'],
  seed: ['storage', 'key', 'bootstrap', 'metrics', 'stats', 'lan', 'tcp'],
  get: ['storage', 'out', 'live', 'timeout', 'bootstrap', 'metrics', 'stats', 'lan', 'tcp', 'peer'],
  status: ['storage'],
  topics: ['storage'],
  forget: ['storage', 'all'],
} as const satisfies Record<string, readonly string[]>

export type Command = keyof typeof COMMANDS

const OPTIONS = {
  peers: { type: 'string' },
  blocks: { type: 'string' },
  nodes: { type: 'string' },
  port: { type: 'string' },
  storage: { type: 'string' },
  key: { type: 'string', multiple: true },
  out: { type: 'string' },
  live: { type: 'boolean' },
  all: { type: 'boolean' },
  timeout: { type: 'string' },
  'block-size': { type: 'string' },
  bootstrap: { type: 'string' },
  metrics: { type: 'string' },
  stats: { type: 'boolean' },
  lan: { type: 'boolean' },
  tcp: { type: 'string' },
  peer: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const

export type Values = ReturnType<typeof parse>['values']

export interface CommandLine {
  /** undefined: no command given (main help). */
  command: Command | undefined
  args: string[]
  values: Values
}

function parse(argv: string[]) {
  return parseArgs({ args: argv, allowPositionals: true, strict: true, options: OPTIONS })
}

/** Where to look for help about `command`, as the tail of an error message. */
export function seeHelp(command?: string): string {
  return command === undefined ? 'see --help' : `see ${command} --help`
}

/**
 * Parses the command line. Every mistake (unknown command or flag, a flag the command does
 * not take, a missing value) is one line ending with where to find the usage: node's own
 * parseArgs messages run over several clauses and suggest `--` tricks users do not need.
 */
export function parseCommandLine(argv: string[]): CommandLine {
  const first = argv.find((a) => !a.startsWith('-'))
  const command = first !== undefined && first in COMMANDS ? (first as Command) : undefined
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (err) {
    throw new CliError(`${parseError(err)}; ${seeHelp(command)}`)
  }
  const { values, positionals } = parsed
  const [name, ...args] = positionals
  if (name === 'help') return { command: undefined, args: [], values: { ...values, help: true } }
  if (name !== undefined && !(name in COMMANDS))
    throw new CliError(`unknown command '${name}'; ${seeHelp()}`)
  const cmd = name as Command | undefined
  if (cmd !== undefined && !values.help && !values.version) {
    const allowed = new Set<string>([...COMMANDS[cmd], 'json', 'quiet', 'help', 'version'])
    for (const flag of Object.keys(values)) {
      if (!allowed.has(flag)) throw new CliError(`${cmd} does not take --${flag}; ${seeHelp(cmd)}`)
    }
  }
  return { command: cmd, args, values }
}

function parseError(err: unknown): string {
  const e = err as { code?: string; message?: string }
  const flag = /'(-[^' ]*)/.exec(e.message ?? '')?.[1]
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${flag ?? ''}`.trimEnd()
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing/.test(e.message ?? '')
        ? `${flag ?? 'a flag'} needs a value`
        : `${flag ?? 'a flag'} takes no value`
    default:
      return (e.message ?? String(err)).split('\n')[0] as string
  }
}

/** A whole number within [min, max]; anything else is a one-line error naming the flag. */
export function wholeNumber(
  value: string | undefined,
  flag: string,
  command: string,
  {
    fallback,
    min = 1,
    max = Number.MAX_SAFE_INTEGER,
    why = '',
  }: {
    fallback: number
    min?: number
    max?: number
    why?: string
  },
): number {
  if (value === undefined) return fallback
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN
  if (!(n >= min))
    throw new CliError(
      `--${flag} must be a whole number ≥ ${min}, got '${value}'; ${seeHelp(command)}`,
    )
  if (n > max)
    throw new CliError(`--${flag} must be at most ${max}${why}, got ${value}; ${seeHelp(command)}`)
  return n
}

/** A required string flag or argument. */
export function required(value: string | undefined, what: string, command: string): string {
  if (value === undefined || value.length === 0)
    throw new CliError(`${command} needs ${what}; ${seeHelp(command)}`)
  return value
}

/** Positional arguments beyond those the command takes are mistakes, not silently ignored. */
export function noMoreArgs(args: string[], count: number, command: string): void {
  const extra = args[count]
  if (extra !== undefined)
    throw new CliError(`${command}: unexpected argument '${extra}'; ${seeHelp(command)}`)
}

/** This package's version, read from its package.json (three levels above dist/src/cli). */
export function packageVersion(): string {
  const url = new URL('../../../package.json', import.meta.url)
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version
}
