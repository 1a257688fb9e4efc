// XState's assign, on the plain contexts the lean runner keeps (lean-machine.ts).

type Fn = (...args: unknown[]) => unknown

/**
 * An assign's fields, listed once: an object of assigners as its keys and values. `direct`:
 * no field is computed after another is written (one field, or none computed), so it may
 * be written into a context in place.
 */
export type Assigner = Fn | { keys: string[]; values: unknown[]; direct: boolean }

export function assigner(assignment: unknown): Assigner {
  if (typeof assignment === 'function') return assignment as Fn
  const keys = Object.keys(assignment as object)
  const values = Object.values(assignment as object)
  const direct = keys.length === 1 || values.every((v) => typeof v !== 'function')
  return { keys, values, direct }
}

/**
 * XState's assign: a new context with the assigned fields, each computed from the context
 * as it was. An object of assigners fills the copy directly: no partial object between.
 * With `reuse` (the context is one no one but this run has seen), written into it instead,
 * once every field is computed.
 */
export function assigned(
  context: object,
  assignment: Assigner,
  args: object,
  params: unknown,
  reuse: boolean,
): object {
  if (typeof assignment === 'function') {
    const partial = assignment(args, params) as object
    return reuse ? Object.assign(context, partial) : { ...context, ...partial }
  }
  const { keys, values } = assignment
  const next = (reuse && assignment.direct ? context : { ...context }) as Record<string, unknown>
  for (let i = 0; i < keys.length; i++) {
    const value = values[i]
    next[keys[i] as string] = typeof value === 'function' ? (value as Fn)(args, params) : value
  }
  return next
}
