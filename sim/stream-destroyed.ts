import { Duplex, getStreamError } from 'streamx'

/**
 * What streamx records as the cause when a stream is destroyed without one: made once and
 * shared by the simulated streams. streamx makes a new one, stack trace and all, on every
 * such destroy, and a simulated run destroys thousands of streams (the stack traces were
 * the largest single cost in its profile). It is streamx's own (taken from a stream destroyed
 * here, as `streamx/errors` does not load as ESM), so streamx and everything reading it
 * treat it as before (no 'error' event, `getStreamError` null); only its stack points here.
 */
export const STREAM_DESTROYED: Error = destroyedCause()

function destroyedCause(): Error {
  const probe = new Duplex()
  probe.destroy()
  const cause = getStreamError(probe, { all: true })
  if (cause === null) throw new Error('streamx recorded no cause for a destroyed stream')
  return cause
}
