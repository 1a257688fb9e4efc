import { describe, expect, it } from 'vitest'
import { VirtualClock } from '../../sim/virtual-clock.js'
import { type LanListener, lanTcpPort } from '../../src/io/lan-discovery.js'
import { rejectionOf } from '../helpers/thrown.js'

/** A listener whose port is set by hand, and whose listen does what the test says. */
function listener(
  port: number | null,
  listen: (self: { tcpPort: number | null }) => Promise<unknown>,
) {
  const self: LanListener & { tcpPort: number | null; asked: unknown[] } = {
    tcpPort: port,
    asked: [],
    listen: (at) => {
      self.asked.push(at)
      return listen(self)
    },
  }
  return self
}

describe('the TCP port LAN answers give', () => {
  it('is the listening port; with none, a listener is opened on any free port', async () => {
    const clock = new VirtualClock()
    const up = listener(7000, async () => {})
    expect(await lanTcpPort(up, clock)).toBe(7000)
    expect(up.asked).toEqual([])
    const down = listener(null, async (self) => {
      self.tcpPort = 41234
    })
    expect(await lanTcpPort(down, clock)).toBe(41234)
    expect(down.asked).toEqual([{ host: '0.0.0.0', port: 0 }])
  })

  it("waits for a listen({ tcp }) of the user's that is binding, and gives up after a few seconds", async () => {
    const clock = new VirtualClock()
    const binding = listener(null, () => Promise.reject(new Error('already binding')))
    clock.setTimeout(() => {
      binding.tcpPort = 4000
    }, 300)
    expect(await clock.settle(lanTcpPort(binding, clock))).toBe(4000)
    const never = listener(null, () => Promise.reject(new Error('port in use')))
    const t0 = clock.now()
    expect((await rejectionOf(clock.settle(lanTcpPort(never, clock)))).message).toMatch(
      /no TCP listener/,
    )
    expect(clock.now() - t0).toBeGreaterThanOrEqual(5000)
    expect(clock.now() - t0).toBeLessThan(5200)
  })
})
