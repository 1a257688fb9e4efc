import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from '../helpers/build.js'

export interface Installed {
  /** The fresh project the tarball is installed in. */
  project: string
  tarball: string
  /** The tarball's files, as npm pack lists them. */
  files: string[]
  /** How it was installed: npm install, or (no registry) the tarball unpacked beside linked dependencies. */
  how: 'npm' | 'linked'
}

const repoPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string
  overrides?: Record<string, string>
  dependencies: Record<string, string>
  devDependencies: Record<string, string>
}

// A child npm must not inherit the settings of an npm script that started the tests.
const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')),
)

/**
 * Packs the package as `npm publish` would (from the dist the test setup built; the prepack
 * script's clean rebuild would pull dist from under tests running beside this one) and
 * installs the tarball into a fresh project, with what a user of the README installs beside it.
 */
export function packAndInstall(dir: string): Installed {
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
      cwd: ROOT,
      encoding: 'utf8',
      env,
    }),
  ) as { filename: string; files: { path: string }[] }[]
  const info = packed[0]!
  const tarball = join(dir, info.filename)
  const project = join(dir, 'consumer')
  mkdirSync(project)
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify(
      {
        name: 'consumer',
        private: true,
        type: 'module',
        // The repository's own pin, so the consumer's tree is the one the tests ran on.
        overrides: repoPackage.overrides ?? {},
      },
      null,
      2,
    )}\n`,
  )
  const extras = ['@types/node', 'level'].map((n) => `${n}@${repoPackage.devDependencies[n]}`)
  const npm = spawnSync(
    'npm',
    [
      'install',
      tarball,
      ...extras,
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
    ],
    { cwd: project, encoding: 'utf8', env, timeout: 240_000 },
  )
  if (npm.status === 0)
    return { project, tarball, files: info.files.map((f) => f.path), how: 'npm' }
  // Without a registry (an offline machine), install the way npm would from what is at hand:
  // the tarball's own files, and the repository's installed dependencies beside them.
  if (!/ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH|offline/i.test(npm.stderr)) {
    throw new Error(`npm install of the tarball failed:\n${npm.stderr}`)
  }
  process.stderr.write('package test: no npm registry; linking the repository’s dependencies\n')
  linkInstall(project, tarball)
  return { project, tarball, files: info.files.map((f) => f.path), how: 'linked' }
}

function linkInstall(project: string, tarball: string): void {
  const modules = join(project, 'node_modules')
  const target = join(modules, ...repoPackage.name.split('/'))
  mkdirSync(target, { recursive: true })
  execFileSync('tar', ['-xzf', tarball, '-C', target, '--strip-components=1'])
  const names = [...Object.keys(repoPackage.dependencies), '@types/node', 'level']
  for (const name of names) {
    const link = join(modules, ...name.split('/'))
    mkdirSync(join(link, '..'), { recursive: true })
    symlinkSync(join(ROOT, 'node_modules', ...name.split('/')), link, 'dir')
  }
  mkdirSync(join(modules, '.bin'), { recursive: true })
  symlinkSync(
    join('..', ...repoPackage.name.split('/'), 'dist', 'bin', 'chainstore-networker.js'),
    join(modules, '.bin', 'chainstore-networker'),
  )
  execFileSync('chmod', ['+x', join(target, 'dist', 'bin', 'chainstore-networker.js')])
}
