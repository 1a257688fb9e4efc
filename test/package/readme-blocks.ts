/**
 * The README's code blocks and how each is run; the convention is described in the README's
 * Development section. A comment on the line before a block says what it needs:
 *
 *   <!-- readme-test: given store, networker -->  run after these names are defined
 *   <!-- readme-test: typescript -->              compile strictly, then run (ts blocks)
 *   <!-- readme-test: commonjs -->                run as CommonJS
 *   <!-- readme-test: skip: <why> -->             not run, for the reason given
 *
 * A js block without one runs as written, as an ES module.
 */
export type Directive =
  | { kind: 'esm'; given: string[] }
  | { kind: 'typescript' }
  | { kind: 'commonjs' }
  | { kind: 'skip'; why: string }

export interface Block {
  /** 1-based line of the opening fence, to name the block in failures. */
  line: number
  lang: string
  code: string
  directive: Directive
}

const RUNNABLE = new Set(['js', 'javascript', 'mjs', 'cjs', 'ts', 'typescript'])
const MARKER = /^\s*<!--\s*readme-test:\s*(.*?)\s*-->\s*$/

/** The names a `given` directive may ask for, each with its definition and what it needs first. */
export const GIVEN: Record<string, { needs: string[]; code: string }> = {
  Networker: { needs: [], code: "import Networker from '@web4/chainstore-networker'" },
  Corestore: { needs: [], code: "import Corestore from 'corestore'" },
  store: { needs: ['Corestore'], code: "const store = new Corestore('./storage')" },
  networker: { needs: ['Networker', 'store'], code: 'const networker = new Networker(store)' },
}

export function readmeBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w+)\s*$/.exec(lines[i] as string)
    if (open === null) continue
    const indent = (open[1] as string).length
    const lang = (open[2] as string).toLowerCase()
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i] as string); i++) {
      body.push((lines[i] as string).slice(indent))
    }
    if (!RUNNABLE.has(lang)) continue
    let before = start - 1
    while (before >= 0 && (lines[before] as string).trim() === '') before--
    const marker = before >= 0 ? MARKER.exec(lines[before] as string) : null
    blocks.push({
      line: start + 1,
      lang,
      code: `${body.join('\n')}\n`,
      directive: directive(marker?.[1] ?? null, lang, start + 1),
    })
  }
  return blocks
}

function directive(text: string | null, lang: string, line: number): Directive {
  const ts = lang === 'ts' || lang === 'typescript'
  if (text === null) return ts ? { kind: 'typescript' } : { kind: 'esm', given: [] }
  if (text === 'typescript' && ts) return { kind: 'typescript' }
  if (text === 'commonjs' && !ts) return { kind: 'commonjs' }
  const skip = /^skip:\s*(\S.*)$/.exec(text)
  if (skip !== null) return { kind: 'skip', why: skip[1] as string }
  const given = /^given\s+(.+)$/.exec(text)
  if (given !== null && !ts) {
    const names = (given[1] as string).split(',').map((n) => n.trim())
    const unknown = names.filter((n) => !(n in GIVEN))
    if (unknown.length === 0) return { kind: 'esm', given: names }
    throw new Error(`README line ${line}: readme-test cannot give ${unknown.join(', ')}`)
  }
  throw new Error(
    `README line ${line}: readme-test directive '${text}' does not fit a ${lang} block`,
  )
}

/** The definitions a block's `given` names need, in dependency order, each once. */
export function prelude(given: string[]): string {
  const done = new Set<string>()
  const out: string[] = []
  const add = (name: string): void => {
    if (done.has(name)) return
    done.add(name)
    const def = GIVEN[name]!
    for (const need of def.needs) add(need)
    out.push(def.code)
  }
  for (const name of given) add(name)
  return out.length === 0 ? '' : `${out.join('\n')}\n`
}
