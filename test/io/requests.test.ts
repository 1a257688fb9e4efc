import { describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/core/errors.js'
import type { WaitDeadline } from '../../src/io/replication-barrier.js'
import { PendingRequests } from '../../src/io/requests.js'

/*
 * The pending requests (requests.ts): a flushing configure settled by the core resolves only
 * once the event that settled it has run its notices (`released`), and then after its topic's
 * replication barrier if that still waits, with the configure's deadline; any other request
 * resolves at its settle, and an error rejects at once, barrier or not.
 */
const TOPIC = 'ab'.repeat(32)
const turn = () => new Promise((resolve) => setImmediate(resolve))

function setup() {
  const asked: { topic: string; deadline: WaitDeadline | undefined }[] = []
  let barrier: Promise<void> | undefined
  const requests = new PendingRequests((topic, deadline) => {
    asked.push({ topic, deadline })
    return barrier
  })
  const state = (promise: Promise<unknown>) => {
    const seen = { value: 'pending' as string }
    promise.then(
      () => {
        seen.value = 'resolved'
      },
      (err: Error) => {
        seen.value = `rejected ${(err as { code?: string }).code}`
      },
    )
    return seen
  }
  return { requests, asked, state, setBarrier: (p: Promise<void> | undefined) => (barrier = p) }
}

describe('pending requests', () => {
  it('resolves a flushing configure once released, when its topic has no barrier waiting', async () => {
    const { requests, asked, state } = setup()
    const deadline = { at: 5, error: new Error('late') }
    const { requestId, settled } = requests.open(TOPIC, deadline)
    const seen = state(settled)
    requests.settle({ type: 'settle', requestId })
    await turn()
    expect(seen.value).toBe('pending')
    expect(asked).toEqual([])
    requests.released()
    await turn()
    expect(seen.value).toBe('resolved')
    expect(asked).toEqual([{ topic: TOPIC, deadline }])
    // Released once: a later event's release asks no barrier again.
    requests.released()
    expect(asked).toHaveLength(1)
  })

  it('resolves a flushing configure after the barrier its release found', async () => {
    const { requests, state, setBarrier } = setup()
    let open = (): void => {}
    setBarrier(new Promise<void>((resolve) => (open = resolve)))
    const first = requests.open(TOPIC)
    const second = requests.open(TOPIC)
    const seen = [state(first.settled), state(second.settled)]
    requests.settle({ type: 'settle', requestId: first.requestId })
    requests.settle({ type: 'settle', requestId: second.requestId })
    requests.released()
    await turn()
    expect(seen.map((s) => s.value)).toEqual(['pending', 'pending'])
    open()
    await turn()
    expect(seen.map((s) => s.value)).toEqual(['resolved', 'resolved'])
  })

  it('settles any other request at once, and rejects a failed flushing configure unreleased', async () => {
    const { requests, asked, state } = setup()
    const plain = requests.open()
    const failed = requests.open(TOPIC)
    const seen = [state(plain.settled), state(failed.settled)]
    const report = { unannounced: [], forced: false }
    requests.settle({ type: 'settle', requestId: plain.requestId, report })
    requests.settle({
      type: 'settle',
      requestId: failed.requestId,
      error: { code: ErrorCode.FLUSH_TIMEOUT, message: 'late' },
    })
    await turn()
    expect(seen.map((s) => s.value)).toEqual(['resolved', `rejected ${ErrorCode.FLUSH_TIMEOUT}`])
    await expect(plain.settled).resolves.toBe(report)
    expect(asked).toEqual([])
  })
})
