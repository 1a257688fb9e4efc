import type { AnyStateNode } from 'xstate'

/**
 * XState's exit and entry sets (its `microstep`: getTransitionDomain, computeExitSet,
 * computeEntrySet, addDescendantStatesToEnter) for machines whose states are atomic or
 * compound: what LeanMachine computes once per (state, transition) pair. The helpers keep
 * XState's names and rules so the two can be read side by side.
 */

/** A transition as XState formats it on its StateNodes. */
export interface TransitionDef {
  source: AnyStateNode
  target?: readonly AnyStateNode[] | undefined
  reenter: boolean
  guard?: unknown
  actions: readonly unknown[]
}

/** The action lists one microstep runs, in order, and the atomic state it ends in. */
export interface Microstep {
  /** Exit actions (deepest first), the transition's, then entry actions (with initial ones). */
  actions: unknown[]
  to: AnyStateNode
}

/** Taking `def` (which has a target) from the atomic state `from`. */
export function microstep(def: TransitionDef, from: AnyStateNode): Microstep | null {
  const target = (def.target as readonly AnyStateNode[])[0] as AnyStateNode
  const config = [from, ...properAncestors(from, undefined)]
  const domain = transitionDomain(def, target)
  const exit = config.filter((s) => isDescendant(s, domain))
  const enter = new Set<AnyStateNode>()
  const byDefault = new Set<AnyStateNode>()
  // A transition to its own source enters it only when it leaves it (reenter).
  if (def.source !== target || def.source !== domain) {
    enter.add(target)
    byDefault.add(target)
  }
  addDescendants(target, enter, byDefault)
  // Every one of them lies within the domain: XState's reentrancy check always passes here.
  for (const a of properAncestors(target, domain)) enter.add(a)
  const after = new Set([...config.filter((s) => !exit.includes(s)), ...enter])
  const leaves = [...after].filter((s) => ![...after].some((c) => c.parent === s))
  const to = leaves[0]
  if (leaves.length !== 1 || to?.type !== 'atomic') return null
  const actions = [
    ...exit.sort((a, b) => b.order - a.order).flatMap((s) => s.exit),
    ...def.actions,
    ...entryActions(enter, byDefault),
  ]
  return { actions, to }
}

/** Starting: XState enters the root and its initial states, each "by default". */
export function initialMicrostep(root: AnyStateNode): Microstep {
  const enter = new Set<AnyStateNode>([root])
  addDescendants(root, enter, new Set())
  const to = [...enter].find((s) => s.type === 'atomic') as AnyStateNode
  return { actions: entryActions(enter, enter), to }
}

export function descendantsOf(sn: AnyStateNode): AnyStateNode[] {
  return [sn, ...Object.values(sn.states as Record<string, AnyStateNode>).flatMap(descendantsOf)]
}

function entryActions(enter: Set<AnyStateNode>, byDefault: Set<AnyStateNode>): unknown[] {
  return [...enter]
    .sort((a, b) => a.order - b.order)
    .flatMap((s) => [...s.entry, ...(byDefault.has(s) ? s.initial.actions : [])])
}

function properAncestors(sn: AnyStateNode, to: AnyStateNode | undefined): AnyStateNode[] {
  const out: AnyStateNode[] = []
  if (to === sn) return out
  for (let m = sn.parent; m !== undefined && m !== to; m = m.parent) out.push(m)
  return out
}

function isDescendant(child: AnyStateNode, parent: AnyStateNode | undefined): boolean {
  let marker = child
  while (marker.parent !== undefined && marker.parent !== parent) marker = marker.parent
  return marker.parent === parent
}

function transitionDomain(def: TransitionDef, target: AnyStateNode): AnyStateNode | undefined {
  if (!def.reenter && (target === def.source || isDescendant(target, def.source))) return def.source
  for (const a of properAncestors(target, undefined)) if (isDescendant(def.source, a)) return a
  return def.reenter ? undefined : def.source.machine.root
}

function addDescendants(sn: AnyStateNode, enter: Set<AnyStateNode>, byDefault: Set<AnyStateNode>) {
  if (sn.type !== 'compound') return
  const initial = sn.initial.target[0] as AnyStateNode
  enter.add(initial)
  byDefault.add(initial)
  addDescendants(initial, enter, byDefault)
  for (const a of properAncestors(initial, sn)) enter.add(a)
}
