import { expect } from 'vitest'

const NOTHING = Symbol('nothing thrown')

/**
 * What `fn` throws, asserted to be an `Error`. vitest's `toThrow(message)` and
 * `toThrow(/regex/)` also pass when `undefined` is thrown (checked on vitest 4.1), so a
 * refusal mutated into `throw undefined` would pass them; read the message from this instead.
 */
export function thrownBy(fn: () => unknown): Error {
  let thrown: unknown = NOTHING
  try {
    fn()
  } catch (err) {
    thrown = err
  }
  if (thrown === NOTHING) expect.fail('expected a throw; nothing was thrown')
  expect(thrown).toBeInstanceOf(Error)
  return thrown as Error
}

/** What `promise` rejects with, asserted to be an `Error` (see thrownBy for why). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  let thrown: unknown = NOTHING
  try {
    await promise
  } catch (err) {
    thrown = err
  }
  if (thrown === NOTHING) expect.fail('expected a rejection; the promise resolved')
  expect(thrown).toBeInstanceOf(Error)
  return thrown as Error
}
