import { describe, expect, it } from 'vitest'
import { medianInterval } from '../../bench/end-to-end.js'

// The end-to-end bench reports how far its median ratio could be from the true one: the
// interval must hold the median and come from the values' own ranks, whatever their order.
describe('end-to-end bench: the 95% interval of a median ratio', () => {
  it('is the values at ranks n/2 ∓ 0.98·√n, in sorted order', () => {
    const values = Array.from({ length: 24 }, (_, i) => 1 + ((i * 7) % 24) / 100)
    // Sorted: 1.00, 1.01, … 1.23; 0.98·√24 ≈ 4.8, so ranks 7 and 17 (1-based).
    expect(medianInterval(values)).toEqual([1.06, 1.16])
  })

  it('holds the median and narrows as rounds are added', () => {
    const spread = (n: number) => Array.from({ length: n }, (_, i) => 0.8 + (0.4 * i) / (n - 1))
    const [lo24, hi24] = medianInterval(spread(24)) as [number, number]
    const [lo48, hi48] = medianInterval(spread(48)) as [number, number]
    expect(lo24).toBeLessThan(1)
    expect(hi24).toBeGreaterThan(1)
    expect(lo48).toBeLessThan(1)
    expect(hi48).toBeGreaterThan(1)
    expect(hi48 - lo48).toBeLessThan(hi24 - lo24)
  })

  it('gives none for too few rounds (a quick run has one)', () => {
    expect(medianInterval([1])).toBeNull()
    expect(medianInterval([1, 1, 1, 1, 1])).toBeNull()
  })
})
