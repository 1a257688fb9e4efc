import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

/**
 * Every module of the core loads, each imported inside a test rather than at the top of the
 * file. A module whose evaluation throws — a machine definition XState refuses, such as a
 * compound state without its initial state — fails the test here. Imported at the top, as
 * the other test files do, such a throw fails the whole file before any test runs, and the
 * mutation run's test runner counts a file that ran no test as one that failed none.
 */
const dir = fileURLToPath(new URL('../../src/core/', import.meta.url))
const modules = readdirSync(dir).filter((name) => name.endsWith('.ts'))

it('finds the core modules', () => {
  expect(modules).toContain('networker-core.ts')
})

it.each(modules)('%s loads', async (name) => {
  // A module of types only (clock.ts, protocol.ts) loads as an empty namespace: loading is
  // what is tested, not what it exports.
  await expect(import(`../../src/core/${name.replace(/\.ts$/, '.js')}`)).resolves.toBeTypeOf(
    'object',
  )
})
