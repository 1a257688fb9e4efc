import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import createTestnet from '@hyperswarm/testnet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt, ROOT } from '../helpers/build.js'
import { type Installed, packAndInstall } from './install.js'
import { type Block, prelude, readmeBlocks } from './readme-blocks.js'

// The package as a user meets it: packed like `npm publish` would, installed into a fresh
// project, then used from strict TypeScript, plain ESM, CommonJS and the command line, and
// every code block of the README run as written.
const dir = mkdtempSync(join(tmpdir(), 'csn-package-'))
const NAME = '@web4/chainstore-networker'
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
let installed: Installed
let pkgDir = ''
let testnet: Awaited<ReturnType<typeof createTestnet>>

beforeAll(async () => {
  ensureBuilt()
  installed = packAndInstall(dir)
  pkgDir = join(installed.project, 'node_modules', ...NAME.split('/'))
  testnet = await createTestnet(3)
}, 300_000)
afterAll(async () => {
  await testnet?.destroy()
  rmSync(dir, { recursive: true, force: true })
})

/** Runs node in the consumer project (or `cwd`), failing with its output when it fails. */
function node(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, args, {
    cwd: opts.cwd ?? installed.project,
    encoding: 'utf8',
    timeout: 90_000,
    env: { ...process.env, ...opts.env },
  })
  expect(r.status, `node ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0)
  return r
}

function tsProject(name: string, files: Record<string, string>): string {
  const project = join(installed.project, name)
  mkdirSync(project, { recursive: true })
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        // Our own declarations and those of every dependency they reach are checked too.
        skipLibCheck: false,
        types: ['node'],
        outDir: 'out',
      },
      include: Object.keys(files),
    }),
  )
  for (const [file, code] of Object.entries(files)) writeFileSync(join(project, file), code)
  const tsc = spawnSync(process.execPath, [TSC, '-p', project], {
    encoding: 'utf8',
    timeout: 180_000,
  })
  expect(tsc.status, `${tsc.stdout}${tsc.stderr}`).toBe(0)
  return project
}

describe('the packed package', () => {
  it('ships what users need and nothing else, and the README’s links work inside it', () => {
    const files = installed.files
    const allowed =
      /^(dist\/(src|sim|bin)\/|docs\/|examples\/|types\/holepunch\.d\.ts$|bench\/RESULTS\.md$|bench\/charts\/[a-z-]+\.svg$|README\.md$|LICENSE$|CHANGELOG\.md$|package\.json$)/
    expect(files.filter((f) => !allowed.test(f))).toEqual([])
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([])
    for (const f of [
      'LICENSE',
      'README.md',
      'CHANGELOG.md',
      'docs/cli.md',
      'examples/extension-chat.mjs',
      'types/holepunch.d.ts',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/sim/index.js',
      'dist/bin/chainstore-networker.js',
    ]) {
      expect(files, f).toContain(f)
    }
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'))
    expect(pkg.repository.url).toMatch(/^git\+https:\/\//)
    expect(pkg.scripts.prepare).toBeUndefined()
    // Every relative link of the shipped markdown resolves to a shipped file.
    for (const doc of files.filter((f) => f.endsWith('.md'))) {
      const text = readFileSync(join(pkgDir, doc), 'utf8')
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target as string)) continue
        const path = join(pkgDir, doc, '..', target as string)
        expect(existsSync(path), `${doc} links to ${target}`).toBe(true)
      }
    }
  })

  it('a strict TypeScript consumer compiles against it with @types/node alone, and runs', () => {
    const readmeTs = readmeBlocks(readFileSync(join(pkgDir, 'README.md'), 'utf8')).filter(
      (b) => b.directive.kind === 'typescript',
    )
    expect(readmeTs).toHaveLength(1)
    const project = tsProject('ts-consumer', {
      'readme.ts': readmeTs[0]!.code,
      'consumer.ts': `import Networker, { ErrorCode, localDht, type NetworkerPeer } from '${NAME}'
import { SimNetwork, SimStore, UnsettledError } from '${NAME}/sim'
import Corestore from 'corestore'

const peers: Set<NetworkerPeer> = new Networker(new SimStore(), { swarm: new SimNetwork({ seed: 1 }).createSwarm() }).peers
// @ts-expect-error peers is a Set of peers: the declarations are real types, not any
const wrong: number = peers
void wrong
// Type checks only, never called.
export function typeOnly(): void {
  // @ts-expect-error localDht takes bootstrap addresses
  localDht(42)
  // @ts-expect-error a misspelled option does not compile (NetworkerOptions names every option)
  new Networker(new SimStore(), { bootstap: ['127.0.0.1:49737'] })
  // @ts-expect-error nor does another
  new Networker(new SimStore(), { maxPeer: 3 })
}
const net = new SimNetwork({ seed: 7 })
const a = new Networker(new SimStore(), { swarm: net.createSwarm(), clock: net.clock })
await net.clock.settle(a.configure(Buffer.alloc(32, 1), { announce: true, lookup: false }))
try {
  await net.clock.settle(new Promise<void>(() => {}), { within: 1000 })
} catch (err) {
  if (err instanceof UnsettledError) console.log('unsettled:', err.message)
}
await net.clock.settle(a.close())
const store: Corestore = new Corestore('./typed-store')
await store.close()
console.log('codes:', ErrorCode.NETWORKER_CLOSED, peers.size)
`,
    })
    const runIn = mkdtempSync(join(dir, 'ts-run-'))
    const readme = node([join(project, 'out', 'readme.js')], { cwd: runIn })
    expect(readme.stdout).toBe('hello, typed world\nINVALID_DISCOVERY_KEY\n')
    const consumer = node([join(project, 'out', 'consumer.js')], { cwd: runIn })
    expect(consumer.stdout).toMatch(
      /^unsettled: the promise did not settle within 1000 virtual ms\ncodes: NETWORKER_CLOSED 0\n$/,
    )
  }, 240_000)

  it('an ESM consumer replicates a core over a local testnet; the bin and the shipped example run', () => {
    writeFileSync(
      join(installed.project, 'esm.mjs'),
      `import Networker, { createLocalTestnet } from '${NAME}'
import Corestore from 'corestore'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const testnet = await createLocalTestnet()
const [a, b] = [0, 1].map(() => new Corestore(mkdtempSync(join(tmpdir(), 'esm-'))))
const writer = new Networker(a, { dht: testnet.dht() })
const reader = new Networker(b, { dht: testnet.dht() })
const core = a.get({ name: 'log' })
await core.ready()
await core.append(Buffer.from('from esm'))
await writer.configure(core.discoveryKey, { announce: true, lookup: false })
const replica = b.get({ key: core.key })
await replica.ready()
await reader.configure(replica.discoveryKey, { announce: false, lookup: true })
console.log(String(await replica.get(0)), reader.peers.size)
await Promise.all([writer.close(), reader.close()])
await Promise.all([a.close(), b.close()])
await testnet.destroy()
`,
    )
    expect(node(['esm.mjs']).stdout).toBe('from esm 1\n')
    const bin = join(installed.project, 'node_modules', '.bin', 'chainstore-networker')
    const version = spawnSync(bin, ['--version'], { encoding: 'utf8' })
    expect(version.stdout.trim()).toBe(
      JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version,
    )
    const demo = spawnSync(bin, ['demo', '--peers', '2', '--blocks', '5', '--json'], {
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(demo.status, demo.stderr).toBe(0)
    expect(demo.stdout).toContain('"event":"summary"')
    const chat = node([join(pkgDir, 'examples', 'extension-chat.mjs')])
    expect(chat.stdout).toContain('bob got {"text":"echo: hi alice"}')
  }, 120_000)

  it('require() works on Node 20.19+/22.12+, and points to import() where it cannot', () => {
    writeFileSync(
      join(installed.project, 'cjs.cjs'),
      `try {
  const { Networker, createLocalTestnet } = require('${NAME}')
  const { SimNetwork } = require('${NAME}/sim')
  console.log(typeof Networker, typeof createLocalTestnet, typeof SimNetwork)
} catch (err) {
  console.log(err.code, /import\\(\\)/.test(err.message))
}
`,
    )
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number]
    const canRequireEsm =
      major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19)
    expect(node(['cjs.cjs']).stdout).toBe(
      canRequireEsm ? 'function function function\n' : 'ERR_REQUIRE_ESM true\n',
    )
  })
})

describe('the README’s code blocks, as written', () => {
  it('every block runs, or says why not', () => {
    const blocks = readmeBlocks(readFileSync(join(pkgDir, 'README.md'), 'utf8'))
    expect(blocks.length).toBeGreaterThan(4)
    const bootstrap = testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
    // Hyperswarm's public bootstrap is swapped for the local testnet before the block loads.
    writeFileSync(
      join(installed.project, 'local-dht.mjs'),
      `import DHT from 'hyperdht'
DHT.BOOTSTRAP.splice(0, DHT.BOOTSTRAP.length, ...process.env.README_TEST_BOOTSTRAP.split(','))
`,
    )
    writeFileSync(
      join(installed.project, 'run-block.mjs'),
      `import { pathToFileURL } from 'node:url'
await import(pathToFileURL(process.argv[2]).href)
// A block may leave a networker open, as the README's first example does: once its code has
// run, give late errors a moment to surface, then leave.
setTimeout(() => process.exit(0), 300)
`,
    )
    for (const [i, block] of blocks.entries()) runBlock(block, i, bootstrap)
  }, 240_000)
})

function runBlock(block: Block, i: number, bootstrap: string): void {
  const where = `README line ${block.line}`
  const cwd = mkdtempSync(join(dir, `block-${i}-`))
  const env = { README_TEST_BOOTSTRAP: bootstrap }
  const preload = ['--import', join(installed.project, 'local-dht.mjs')]
  switch (block.directive.kind) {
    case 'skip':
      expect(block.directive.why.length, where).toBeGreaterThan(0)
      return
    case 'typescript': {
      // Compiled strictly, like the consumer above (its build is reused when it has one).
      const built = join(installed.project, 'ts-consumer', 'out', 'readme.js')
      const out = existsSync(built)
        ? built
        : join(tsProject(`block-${i}`, { 'block.ts': block.code }), 'out', 'block.js')
      node([...preload, join(installed.project, 'run-block.mjs'), out], { cwd, env })
      return
    }
    case 'commonjs': {
      const file = join(installed.project, `block-${i}.cjs`)
      writeFileSync(file, block.code)
      node([...preload, file], { cwd, env })
      return
    }
    case 'esm': {
      const file = join(installed.project, `block-${i}.mjs`)
      writeFileSync(file, `${prelude(block.directive.given)}${block.code}`)
      node([...preload, join(installed.project, 'run-block.mjs'), file], { cwd, env })
    }
  }
}
