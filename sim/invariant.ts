/** A broken invariant: its name, what was seen, and when (virtual ms). */
export class InvariantViolation extends Error {
  constructor(
    readonly invariant: string,
    readonly detail: string,
    readonly at: number,
  ) {
    super(`invariant '${invariant}' broken at ${at} ms: ${detail}`)
    this.name = 'InvariantViolation'
  }
}

export const INVARIANTS = [
  'one-peer-per-key',
  'peer-events-alternate',
  'peers-match-events',
  'promises-settle',
  'flush-after-processing',
  'mesh-at-quiescence',
  'same-connection-both-ends',
  'extension-exactly-once-in-order',
  'clean-after-close',
  'rejected-never-peers',
  'peer-topics-at-quiescence',
  'proofs-name-joined-topics',
  'reconnect-without-duplicates',
  'dead-links-dropped',
  'peer-type-is-transport',
  'unreachable-never-peers',
  'adopt-settles-on-its-peer',
] as const

export type InvariantName = (typeof INVARIANTS)[number]
