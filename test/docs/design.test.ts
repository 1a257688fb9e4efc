import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { generatedParts, readDesign, withParts } from '../../scripts/design-doc.js'
import { ROOT } from '../helpers/build.js'

describe('docs/design.md', () => {
  it('shows the protocol and the machines as the code now defines them', async () => {
    const doc = await readDesign()
    const current = withParts(doc, await generatedParts())
    // On a difference: a machine or src/core/protocol.ts changed. Run `npm run design-doc`.
    expect(doc, 'docs/design.md is out of date: run `npm run design-doc`').toBe(current)
  })

  it('names only files that exist', async () => {
    const doc = await readDesign()
    const named = new Set(
      [...doc.matchAll(/`((?:src|sim|test|scripts|bench)\/[\w./-]+\.(?:ts|json))`/g)].map(
        (m) => m[1] as string,
      ),
    )
    expect(named.size).toBeGreaterThan(10)
    const gone = [...named].filter((path) => !existsSync(join(ROOT, path)))
    expect(gone, 'docs/design.md names files that are gone').toEqual([])
  })

  it('is linked from the README, which links nothing outside the repository', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    expect(readme).toContain('(docs/design.md)')
    expect(readme).not.toMatch(/\]\(\.\.\//)
  })
})
