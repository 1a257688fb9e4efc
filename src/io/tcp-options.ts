import { isIP } from 'node:net'
import { ErrorCode, NetworkerError } from '../core/errors.js'
import { describe } from '../core/keys.js'
import { publicKeyOf } from './adopt-options.js'

/*
 * What the direct TCP calls are given — `listen({ tcp })`, `connect(…)`, `directPeers` —
 * and the checks on it: a mistake throws INVALID_OPTION naming the option at the call.
 */

/** Where to dial: `'host:port'` (`'[::1]:port'` for IPv6) or an object, with the key expected. */
export type TcpTargetInput =
  | string
  | { host: string; port: number; publicKey?: Uint8Array | string }

/** A dial target, checked: the remote key, when given, is what Noise must reach. */
export interface TcpTarget {
  host: string
  port: number
  publicKey?: Uint8Array
}

/** `listen({ tcp })`: a port (every interface), or a host and port. Port 0 picks a free one. */
export type TcpListenInput = number | { host?: string; port: number }

export interface TcpListenAddress {
  host: string
  port: number
}

/** Where the listener binds when only a port is given: every IPv4 interface, as LAN peers need. */
export const DEFAULT_TCP_HOST = '0.0.0.0'

export function tcpTargetOf(value: unknown, what = 'connect target'): TcpTarget {
  if (typeof value === 'string') return parseHostPort(value, what)
  if (typeof value !== 'object' || value === null) {
    throw invalid(
      `${what} must be 'host:port' or { host, port, publicKey? }, got ${describe(value)}`,
    )
  }
  const o = value as { host?: unknown; port?: unknown; publicKey?: unknown }
  const host = hostOf(o.host, what)
  const port = portOf(o.port, what, false)
  return o.publicKey === undefined
    ? { host, port }
    : { host, port, publicKey: publicKeyOf(o.publicKey) }
}

export function tcpListenOf(value: unknown): TcpListenAddress {
  if (typeof value === 'number')
    return { host: DEFAULT_TCP_HOST, port: portOf(value, 'listen tcp', true) }
  if (typeof value !== 'object' || value === null) {
    throw invalid(`listen option tcp must be a port or { host, port }, got ${describe(value)}`)
  }
  const o = value as { host?: unknown; port?: unknown }
  const host = o.host === undefined ? DEFAULT_TCP_HOST : hostOf(o.host, 'listen tcp')
  return { host, port: portOf(o.port, 'listen tcp', true) }
}

/** `listen(opts)`: `tcp` also listens for direct TCP connections there. */
export interface ListenOptions {
  tcp?: TcpListenInput
}

/** `listen()`'s options: `{ tcp }` also listens on TCP; nothing else is known. */
export function listenOptionsOf(value: unknown): { tcp: TcpListenAddress | null } {
  if (value === undefined) return { tcp: null }
  if (typeof value !== 'object' || value === null) {
    throw invalid(`listen options must be an object, got ${describe(value)}`)
  }
  const tcp = (value as { tcp?: unknown }).tcp
  return { tcp: tcp === undefined ? null : tcpListenOf(tcp) }
}

/** The `directPeers` option: an array of dial targets. */
export function directPeersOf(value: unknown): TcpTarget[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) {
    throw invalid(
      `option directPeers must be an array of 'host:port' or { host, port }, got ${describe(value)}`,
    )
  }
  return value.map((v, i) => tcpTargetOf(v, `directPeers[${i}]`))
}

function parseHostPort(text: string, what: string): TcpTarget {
  // '[v6]:port' or 'host:port': the port is after the last colon.
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text)
  if (match === null) throw invalid(`${what} must be 'host:port', got '${text.slice(0, 80)}'`)
  return { host: hostOf(match[1], what), port: portOf(Number(match[2]), what, false) }
}

function hostOf(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 255) {
    throw invalid(`${what} host must be a non-empty string, got ${describe(value)}`)
  }
  if (isIP(value) === 0 && !/^[A-Za-z0-9.-]+$/.test(value)) {
    throw invalid(`${what} host must be an IP address or a host name, got '${value.slice(0, 80)}'`)
  }
  return value
}

function portOf(value: unknown, what: string, zero: boolean): number {
  const ok =
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= (zero ? 0 : 1) &&
    value <= 65535
  if (!ok) {
    throw invalid(
      `${what} port must be an integer ${zero ? '0' : '1'}–65535, got ${describe(value)}`,
    )
  }
  return value
}

function invalid(message: string): NetworkerError {
  return new NetworkerError(ErrorCode.INVALID_OPTION, message)
}
