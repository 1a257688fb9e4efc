import { ErrorCode, NetworkerError } from '../core/errors.js'
import { describe } from '../core/keys.js'
import { MDNS_PORT } from './lan-socket.js'

/** The `lan` option's tunables (`lan: true` takes every default). */
export interface LanOptions {
  /**
   * The longest wait between two queries of one topic (ms), once the first quick ones (1, 2,
   * 4, 8, 16 s after a configure) are spent. Default 30 000.
   */
  queryInterval?: number
  /** How long a flushing configure listens for answers on the LAN (ms). Default 1 000. */
  lookupWindow?: number
  /**
   * The IPv4 address of the network interface to use for mDNS (e.g. the Wi-Fi's), when the
   * system's default one is not on the LAN. Default: join the group on every interface and
   * send by the system's route.
   */
  interface?: string
  /** The mDNS UDP port. Default 5353; any other makes a private discovery group. */
  port?: number
  /** Most answer packets we send per second, however many queries arrive. Default 10. */
  maxAnswersPerSecond?: number
  /**
   * How long a configure waits for a DHT that is still connecting or offline (no bootstrap
   * node reachable) before it goes on with the LAN alone (ms). Default 3 000.
   */
  dhtWait?: number
}

/** The `lan` option's tunables, with their defaults filled in. */
export interface LanSettings {
  port: number
  interface: string | undefined
  queryInterval: number
  lookupWindow: number
  maxAnswersPerSecond: number
  dhtWait: number
}

export const LAN_DEFAULTS: Omit<LanSettings, 'interface'> = {
  port: MDNS_PORT,
  queryInterval: 30_000,
  lookupWindow: 1000,
  maxAnswersPerSecond: 10,
  dhtWait: 3000,
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

/** The `lan` option, checked: null when off (undefined or false). */
export function lanSettingsOf(value: unknown): LanSettings | null {
  if (value === undefined || value === false) return null
  if (value === true) return { ...LAN_DEFAULTS, interface: undefined }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`lan must be a boolean or an object of LAN options, got ${describe(value)}`)
  }
  const o = value as LanOptions
  const ms = (v: unknown, name: string, fallback: number): number =>
    positive(v, name, fallback, 'a positive, finite number of ms')
  if (o.interface !== undefined && (typeof o.interface !== 'string' || !IPV4.test(o.interface))) {
    throw invalid(`lan.interface must be an IPv4 address, got ${describe(o.interface)}`)
  }
  const port = positive(o.port, 'port', LAN_DEFAULTS.port, 'a port number (1-65535)')
  if (!Number.isInteger(port) || port > 65535) {
    throw invalid('lan.port must be a port number (1-65535)')
  }
  return {
    port,
    interface: o.interface,
    queryInterval: ms(o.queryInterval, 'queryInterval', LAN_DEFAULTS.queryInterval),
    lookupWindow: ms(o.lookupWindow, 'lookupWindow', LAN_DEFAULTS.lookupWindow),
    maxAnswersPerSecond: positive(
      o.maxAnswersPerSecond,
      'maxAnswersPerSecond',
      LAN_DEFAULTS.maxAnswersPerSecond,
      'a positive, finite number',
    ),
    dhtWait: ms(o.dhtWait, 'dhtWait', LAN_DEFAULTS.dhtWait),
  }
}

function positive(value: unknown, name: string, fallback: number, what: string): number {
  if (value === undefined) return fallback
  if (typeof value === 'number' && value > 0 && Number.isFinite(value)) return value
  throw invalid(`lan.${name} must be ${what}, got ${describe(value)}`)
}

function invalid(message: string): NetworkerError {
  return new NetworkerError(ErrorCode.INVALID_OPTION, message)
}
