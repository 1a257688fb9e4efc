/**
 * The generated parts of docs/design.md, so they cannot drift from the code:
 *
 * - the events and effects tables, read from the types in src/core/protocol.ts;
 * - the machines' state diagrams: every module of src/core is imported, every exported
 *   XState machine is walked through the StateNodes XState built from it, and each becomes
 *   a Mermaid `stateDiagram-v2`.
 *
 * Each part sits between its own pair of markers; the prose around them is written by hand.
 *
 *   npm run design-doc          rewrite the generated parts of docs/design.md
 *   test/docs/design.test.ts    fails when docs/design.md differs from what this writes
 */
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { pathToFileURL } from 'node:url'
import ts from 'typescript'
import { type AnyStateMachine, type AnyStateNode, StateMachine } from 'xstate'

/** The repository: this file is scripts/design-doc.ts, or compiled dist/scripts/design-doc.js. */
const ROOT = new URL(import.meta.url.includes('/dist/scripts/') ? '../../' : '../', import.meta.url)
const DESIGN = new URL('docs/design.md', ROOT)
const PROTOCOL = new URL('src/core/protocol.ts', ROOT)
/** The core's modules as they run here: src/core from source, dist/src/core when compiled. */
const CORE = new URL('../src/core/', import.meta.url)

/** One generated part: its markers, and the text between them. */
export interface Part {
  name: string
  text: string
}

export const markers = (name: string): { start: string; end: string } => ({
  start: `<!-- generated:${name} (npm run design-doc writes this; do not edit by hand) -->`,
  end: `<!-- end generated:${name} -->`,
})

interface Transition {
  eventType: string
  target?: readonly AnyStateNode[] | undefined
  guard?: unknown
  actions: readonly unknown[]
  reenter?: boolean
}

export interface CoreMachine {
  /** The module it is defined in, as src/core/<name>.ts. */
  file: string
  machine: AnyStateMachine
}

/** Every generated part of docs/design.md, as the code now says it. */
export async function generatedParts(): Promise<Part[]> {
  return [
    { name: 'protocol', text: protocolTables(await readFile(PROTOCOL, 'utf8')) },
    { name: 'machines', text: diagramsSection(await coreMachines()) },
  ]
}

export async function readDesign(): Promise<string> {
  return readFile(DESIGN, 'utf8')
}

/** `doc` with each part's text put between its markers. */
export function withParts(doc: string, parts: readonly Part[]): string {
  let out = doc
  for (const { name, text } of parts) {
    const { start, end } = markers(name)
    const from = out.indexOf(start)
    const to = out.indexOf(end)
    if (from < 0 || to < from) throw new Error(`docs/design.md lacks the markers ${start} … ${end}`)
    out = `${out.slice(0, from + start.length)}\n\n${text}\n\n${out.slice(to)}`
  }
  return out
}

/** Every XState machine the core's modules export, in file order. */
export async function coreMachines(): Promise<CoreMachine[]> {
  const names = (await readdir(CORE))
    .filter((n) => (n.endsWith('.js') || n.endsWith('.ts')) && !n.endsWith('.d.ts'))
    .sort()
  const out: CoreMachine[] = []
  for (const name of names) {
    const module = (await import(new URL(name, CORE).href)) as Record<string, unknown>
    for (const key of Object.keys(module).sort()) {
      const value = module[key]
      if (value instanceof StateMachine) {
        out.push({ file: `src/core/${name.replace(/\.js$/, '.ts')}`, machine: value })
      }
    }
  }
  return out
}

/**
 * What each event and effect is, for the members protocol.ts has no doc comment on (a doc
 * comment there wins). A new member without either gets an empty note.
 */
const NOTES: Record<string, string> = {
  configure:
    'A `configure` call: join the topic (announce and/or lookup) or leave it (both false); `requestId` settles its promise.',
  'topic-joined': 'The swarm joined, or re-joined with new options, the topic for op `op`.',
  'topic-join-failed': 'The join of op `op` failed.',
  'topic-left': 'The swarm left the topic (op `op`).',
  'topic-leave-failed': 'The leave of op `op` failed: the announcement may still be out there.',
  'swarm-flushed': 'The swarm flushed for op `op`: the dials and announces it had begun are done.',
  'swarm-flush-failed': 'The flush of op `op` failed.',
  'connection-opened': 'The swarm handed over a Noise connection to `remoteKey`.',
  'connection-authenticated': 'The verdict of `onauthenticate` on the connection.',
  'connection-closed': "The connection's stream closed.",
  'swarm-destroyed': 'The swarm is destroyed, or failed to be: the close can complete.',
  'join-topic':
    'Join the topic, or change how, as server (`announce`) and/or client (`lookup`); answer `topic-joined` or `topic-join-failed`.',
  'leave-topic': 'Leave the topic; answer `topic-left` or `topic-leave-failed`.',
  'flush-swarm': 'Flush the swarm; answer `swarm-flushed` or `swarm-flush-failed`.',
  authenticate: 'Ask `onauthenticate` about the connection; answer `connection-authenticated`.',
  'keep-connection': 'Keep the connection: replicate the store over it.',
  'drop-connection':
    'Close the connection; `reason` says why (duplicate, rejected, closing, limit).',
  'peer-add': "List the connection as its key's peer, then emit `'peer-add'`.",
  'peer-remove': "Take the peer off the list, then emit `'peer-remove'`.",
  settle: "Settle a configure's or close's promise: with `error`, or with close's `report`.",
  'destroy-swarm': 'Destroy every extension and the swarm; answer `swarm-destroyed`.',
}

/**
 * The tables of CoreEvent and CoreEffect: one row per member of each union, with the fields
 * it carries and the doc comment written above it in protocol.ts.
 */
export function protocolTables(source: string): string {
  const file = ts.createSourceFile('protocol.ts', source, ts.ScriptTarget.ES2022, true)
  const tables: string[] = []
  for (const [alias, title] of [
    ['CoreEvent', 'Events (`CoreEvent`): what happened, fed to `NetworkerCore.handle(event, now)`'],
    ['CoreEffect', 'Effects (`CoreEffect`): what to do, returned by `handle`'],
  ] as const) {
    const union = file.statements.find(
      (s): s is ts.TypeAliasDeclaration => ts.isTypeAliasDeclaration(s) && s.name.text === alias,
    )?.type
    if (union === undefined || !ts.isUnionTypeNode(union)) {
      throw new Error(`src/core/protocol.ts: ${alias} is no longer a union of object types`)
    }
    const rows = [`**${title}**`, '', '| type | carries | note |', '| --- | --- | --- |']
    union.types.forEach((member, i) => {
      if (!ts.isTypeLiteralNode(member)) throw new Error(`${alias}: a member is not an object type`)
      const from = i === 0 ? union.pos : (union.types[i - 1] as ts.TypeNode).end
      const comments = source.slice(from, member.getStart(file)).match(/\/\*\*[\s\S]*?\*\//g)
      let type = '?'
      const fields: string[] = []
      for (const m of member.members) {
        if (!ts.isPropertySignature(m) || m.type === undefined) continue
        const name = m.name.getText(file)
        if (name === 'type') type = m.type.getText(file).replace(/'/g, '')
        else fields.push(`${name}${m.questionToken === undefined ? '' : '?'}`)
      }
      const note =
        comments === null ? (NOTES[type] ?? '') : docText(comments[comments.length - 1] as string)
      rows.push(`| \`${type}\` | ${fields.join(', ')} | ${note} |`)
    })
    tables.push(rows.join('\n'))
  }
  return tables.join('\n\n')
}

/** A doc comment's text on one line. */
function docText(comment: string): string {
  return comment
    .replace(/^\/\*\*|\*\/$/g, '')
    .split('\n')
    .map((line) => line.replace(/^\s*\*\s?/, '').trim())
    .filter((line) => line.length > 0)
    .join(' ')
    .replace(/\|/g, '\\|')
}

/** The Markdown that goes between the markers: one heading and diagram per machine. */
export function diagramsSection(machines: readonly CoreMachine[]): string {
  const parts = machines.map(({ file, machine }) => {
    const lines = [`### \`${machine.id}\` (${file})`, '', '```mermaid', ...mermaidOf(machine)]
    lines.push('```')
    const anyState = compoundTransitions(machine.root)
    if (anyState.length > 0) lines.push('', ...anyState)
    return lines.join('\n')
  })
  return parts.join('\n\n')
}

/** The Mermaid lines of one machine. */
export function mermaidOf(machine: AnyStateMachine): string[] {
  const lines = ['stateDiagram-v2']
  block(machine.root, lines, '  ')
  return lines
}

/** A compound state's children, its initial state, and the edges whose endpoints are all in it. */
function block(node: AnyStateNode, lines: string[], indent: string): void {
  const initial = node.initial?.target?.[0]
  if (initial !== undefined) lines.push(`${indent}[*] --> ${idOf(initial)}`)
  for (const child of Object.values(node.states) as AnyStateNode[]) {
    if (child.type === 'compound') {
      lines.push(`${indent}state ${label(child)}${idOf(child)} {`)
      block(child, lines, `${indent}  `)
      lines.push(`${indent}}`)
    } else if (child.parent !== node.machine.root) {
      lines.push(`${indent}state ${label(child)}${idOf(child)}`)
    }
    const entry = actionNames(child.entry)
    if (entry.length > 0) lines.push(`${indent}${idOf(child)} : entry / ${entry.join(', ')}`)
  }
  for (const source of descendantsOf(node)) {
    for (const t of transitionsOf(source)) {
      const target = t.target?.[0]
      // Drawn: transitions of an atomic state, and those leaving a compound one. A compound
      // state's transitions into itself or without a target are listed as text below.
      if (source.type !== 'atomic' && (target === undefined || isWithin(target, source))) continue
      // Each edge is drawn in the innermost block holding both ends, as Mermaid wants.
      if (scopeOf(source, target ?? source) !== node) continue
      lines.push(`${indent}${idOf(source)} --> ${idOf(target ?? source)} : ${describe(t)}`)
    }
  }
}

function descendantsOf(node: AnyStateNode): AnyStateNode[] {
  const out: AnyStateNode[] = []
  for (const child of Object.values(node.states) as AnyStateNode[]) {
    out.push(child, ...descendantsOf(child))
  }
  return out
}

/** The innermost compound state holding both `a` and `b` (the machine's root at the top). */
function scopeOf(a: AnyStateNode, b: AnyStateNode): AnyStateNode {
  for (let n = a.parent; n !== undefined; n = n.parent) if (isWithin(b, n) && n !== b) return n
  return a.machine.root
}

/** Text lines for the transitions a compound state (or the machine) takes in any substate. */
function compoundTransitions(root: AnyStateNode): string[] {
  const out: string[] = []
  const visit = (node: AnyStateNode): void => {
    if (node.type !== 'compound') return
    for (const t of transitionsOf(node)) {
      const target = t.target?.[0]
      if (node !== root && target !== undefined && !isWithin(target, node)) continue
      // XState tries the active substate first: these apply when it takes no transition.
      const where =
        node === root
          ? 'Any state that does not take the event'
          : `In \`${node.key}\`, when its substate does not take the event`
      const to = target === undefined ? 'stays' : `goes to \`${target.key}\``
      out.push(`- ${where}: ${describe(t)} — ${to}`)
    }
    for (const child of Object.values(node.states) as AnyStateNode[]) visit(child)
  }
  visit(root)
  return out
}

/** The node's transitions in definition order: on events, then after, then always. */
function transitionsOf(node: AnyStateNode): Transition[] {
  const out: Transition[] = []
  for (const [eventType, list] of node.transitions as Map<string, Transition[]>) {
    if (eventType.startsWith('xstate.after.')) continue
    out.push(...list)
  }
  for (const delayed of (node.after ?? []) as (Transition & { delay: unknown })[]) {
    out.push({ ...delayed, eventType: `after ${String(delayed.delay)}` })
  }
  for (const t of (node.always ?? []) as Transition[]) out.push({ ...t, eventType: 'always' })
  return out
}

function describe(t: Transition): string {
  const guard = guardName(t.guard)
  const actions = actionNames(t.actions)
  let text = t.eventType
  if (guard !== null) text += ` [${guard}]`
  if (actions.length > 0) text += ` / ${actions.join(', ')}`
  if (t.reenter === true) text += ' (re-entered)'
  return text
}

function guardName(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null
  if (typeof guard === 'string') return guard
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') {
    return (guard as { type: string }).type
  }
  // An inline guard has no name; naming it in the machine's `guards` would show it here.
  return 'inline guard'
}

function actionNames(actions: readonly unknown[]): string[] {
  const out: string[] = []
  for (const action of actions) {
    const type = (action as { type?: unknown } | null)?.type
    // XState implements `after` with a raise on entry and a cancel on exit: drawn as edges.
    if (type === 'xstate.raise' || type === 'xstate.cancel') continue
    if (typeof action === 'string') out.push(action)
    else if (typeof type === 'string') out.push(type.replace(/^xstate\./, ''))
    else out.push('inline action')
  }
  return out
}

function idOf(node: AnyStateNode): string {
  return node.path.join('_').replace(/\W/g, '_')
}

/** A nested state's id is its path; its label stays its own key. */
function label(node: AnyStateNode): string {
  return node.path.length > 1 ? `"${node.key}" as ` : ''
}

function isWithin(node: AnyStateNode, ancestor: AnyStateNode): boolean {
  for (let n: AnyStateNode | undefined = node; n !== undefined; n = n.parent) {
    if (n === ancestor) return true
  }
  return false
}

async function main(): Promise<void> {
  const doc = await readDesign()
  const next = withParts(doc, await generatedParts())
  if (next === doc) {
    console.log('docs/design.md: the generated parts are up to date')
    return
  }
  await writeFile(DESIGN, next)
  console.log('docs/design.md: the generated parts were rewritten')
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
}
