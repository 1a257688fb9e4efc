import { describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/core/errors.js'
import { LAN_DEFAULTS, lanSettingsOf } from '../../src/io/lan-options.js'
import { thrownBy } from '../helpers/thrown.js'

describe('the lan option', () => {
  it('is off unless given; true takes every default; an object overrides some', () => {
    expect(lanSettingsOf(undefined)).toBeNull()
    expect(lanSettingsOf(false)).toBeNull()
    expect(lanSettingsOf(true)).toEqual({ ...LAN_DEFAULTS, interface: undefined })
    expect(lanSettingsOf({ lookupWindow: 300, interface: '192.168.1.23', port: 15353 })).toEqual({
      ...LAN_DEFAULTS,
      lookupWindow: 300,
      interface: '192.168.1.23',
      port: 15353,
    })
  })

  it('refuses what is not a boolean or tunables, naming the option', () => {
    const bad: [unknown, RegExp][] = [
      ['yes', /lan must be a boolean or an object/],
      [[], /lan must be a boolean or an object/],
      [{ queryInterval: 0 }, /lan\.queryInterval/],
      [{ lookupWindow: Number.NaN }, /lan\.lookupWindow/],
      [{ dhtWait: Number.POSITIVE_INFINITY }, /lan\.dhtWait/],
      [{ maxAnswersPerSecond: -1 }, /lan\.maxAnswersPerSecond/],
      [{ port: 70_000 }, /lan\.port/],
      [{ port: 53.5 }, /lan\.port/],
      [{ interface: 'eth0' }, /lan\.interface/],
      [{ interface: '256.1.1.1' }, /lan\.interface/],
    ]
    for (const [value, message] of bad) {
      const refused = thrownBy(() => lanSettingsOf(value))
      expect(refused.message, JSON.stringify(value)).toMatch(message)
      expect((refused as { code?: string }).code).toBe(ErrorCode.INVALID_OPTION)
    }
  })
})
