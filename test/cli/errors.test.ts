import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt, ROOT } from '../helpers/build.js'
import { expectOneLineError, runIn } from './cli-process.js'

// Mistakes the CLI must answer before it opens the network or writes anything: every case
// here names a bootstrap nobody answers (127.0.0.1:9), so reaching the network would turn
// into a different error after seconds, and none may leave a file behind.
const dir = mkdtempSync(join(tmpdir(), 'csn-cli-errors-'))
const NOBODY = ['--bootstrap', '127.0.0.1:9']
const KEY = 'ab'.repeat(32)

beforeAll(() => ensureBuilt(), 120_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const run = (...args: string[]) => runIn(dir, args)

describe('CLI mistakes: one line, exit 1, before the network, nothing written', () => {
  it('--version prints the package version', async () => {
    const { version } = (await import(join(ROOT, 'package.json'), { with: { type: 'json' } }))
      .default as { version: string }
    for (const args of [['--version'], ['get', '--version']]) {
      const r = run(...args)
      expect(r.status).toBe(0)
      expect(r.stdout).toBe(`${version}\n`)
    }
  })

  it('answers unknown flags, flags a command does not take and bad numbers with "see --help"', () => {
    const cases: [string[], RegExp][] = [
      [['get', KEY, '--bogus'], /^chainstore-networker: unknown flag --bogus; see get --help$/],
      [['--bogus'], /unknown flag --bogus; see --help$/],
      [['status', '--storage', dir, '--live'], /status does not take --live; see status --help$/],
      [['status', '--storage', dir, ...NOBODY], /status does not take --bootstrap/],
      [['get', KEY, '--storage'], /--storage needs a value; see get --help$/],
      [['demo', '--peers', 'x'], /--peers must be a whole number ≥ 2, got 'x'; see demo --help$/],
      [['demo', '--peers', '1'], /--peers must be a whole number ≥ 2/],
      [['get', KEY, '--storage', 'g', '--timeout', '1.5'], /--timeout must be a whole number/],
      [['testnet', '--port', '70000'], /--port must be at most 65535/],
      [['put', 'f', 'g', '--storage', 'p'], /put: unexpected argument 'g'; see put --help$/],
      [['frobnicate'], /unknown command 'frobnicate'; see --help$/],
      [['get', '--storage', 'g'], /get needs <key>; see get --help$/],
      [['forget', '--storage', dir], /forget takes one or more keys, or --all/],
    ]
    for (const [args, message] of cases) expectOneLineError(run(...args), message)
    expect(readdirSync(dir)).toEqual([])
  })

  it('put: a directory, a too-large block size, an empty file: refused up front', () => {
    mkdirSync(join(dir, 'folder'))
    writeFileSync(join(dir, 'empty.bin'), '')
    writeFileSync(join(dir, 'data.bin'), 'hello')
    expectOneLineError(
      run('put', 'folder', '--storage', 'p1', ...NOBODY),
      /folder is a directory; put takes one file \(for a directory: tar c folder \|/,
    )
    expectOneLineError(
      run('put', 'data.bin', '--block-size', '30000000', '--storage', 'p2', ...NOBODY),
      /--block-size must be at most 15728640 \(15 MiB, Hypercore's largest block\), got 30000000/,
    )
    expectOneLineError(run('put', 'empty.bin', '--storage', 'p3', ...NOBODY), /empty\.bin is empty/)
    expectOneLineError(run('put', 'missing.bin', '--storage', 'p4', ...NOBODY), /no such file/)
    // No storage directory was created. (Had the network been opened first, each would have
    // failed with 'cannot reach 127.0.0.1:9' instead.)
    expect(readdirSync(dir).sort()).toEqual(['data.bin', 'empty.bin', 'folder'])
  })

  it('get: a missing --out directory, or --out naming a directory, is refused before any download', () => {
    mkdirSync(join(dir, 'out-dir'), { recursive: true })
    expectOneLineError(
      run('get', KEY, '--storage', 'g1', '--out', '/nonexistent-dir/x.bin', ...NOBODY),
      /--out \/nonexistent-dir\/x\.bin: directory \/nonexistent-dir does not exist/,
    )
    expectOneLineError(
      run('get', KEY, '--storage', 'g2', '--out', 'out-dir', ...NOBODY),
      /--out out-dir is a directory; give a file path/,
    )
    expect(readdirSync(dir)).not.toContain('g1')
    expect(readdirSync(dir)).not.toContain('g2')
  })

  it('status, topics, seed, forget on a directory that is not a store: reported, left untouched', () => {
    const other = join(dir, 'documents')
    mkdirSync(other, { recursive: true })
    writeFileSync(join(other, 'notes.txt'), 'mine')
    const empty = join(dir, 'empty-dir')
    mkdirSync(empty, { recursive: true })
    for (const args of [
      ['status', '--storage', other],
      ['status', '--storage', empty],
      ['topics', '--storage', other],
      ['forget', '--all', '--storage', other],
      ['seed', '--storage', other, ...NOBODY],
    ]) {
      expectOneLineError(run(...args), /is not a storage directory \(no Corestore in it\)/)
    }
    expect(readdirSync(other)).toEqual(['notes.txt'])
    expect(readdirSync(empty)).toEqual([])
    // put and get create a store, but never among other files.
    expectOneLineError(
      run('get', KEY, '--storage', other, ...NOBODY),
      /documents holds other files and no Corestore/,
    )
    expect(readdirSync(other)).toEqual(['notes.txt'])
    expectOneLineError(run('status', '--storage', join(dir, 'nope')), /does not exist/)
  })
})
