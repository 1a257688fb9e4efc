import { createServer, type Server } from 'node:http'
import { isIP } from 'node:net'
import type { Registry } from 'prom-client'
import { seeHelp } from './args.js'
import { CliError } from './cli-error.js'
import type { Output } from './output.js'

/** Where `--metrics` serves: a host to bind and a port (0: any free one). */
export interface MetricsAddress {
  host: string
  port: number
}

/**
 * `--metrics host:port` (an IPv6 host in brackets: `[::1]:9464`). Checked with the other
 * inputs, before anything is opened.
 */
export function parseMetricsAddress(
  value: string | undefined,
  command: string,
): MetricsAddress | null {
  if (value === undefined) return null
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value)
  const host = match?.[1] ?? match?.[2]
  const port = Number(match?.[3])
  const valid =
    host !== undefined && port <= 65535 && (match?.[1] === undefined || isIP(host) === 6)
  if (!valid) {
    throw new CliError(
      `--metrics must be host:port (e.g. 127.0.0.1:9464), got '${value}'; ${seeHelp(command)}`,
    )
  }
  return { host, port }
}

/** A running `/metrics` endpoint over one prom-client registry. */
export interface MetricsServer {
  registry: Registry
  url: string
  close(): Promise<void>
}

/**
 * Makes a registry (prom-client is loaded only now) and serves it at `/metrics` over HTTP,
 * as Prometheus scrapes: GET gives the text format, anything else 404 or 405. Says where
 * it listens (the port chosen, for port 0) with a `metrics` event.
 */
export async function startMetricsServer(
  address: MetricsAddress,
  out: Output,
): Promise<MetricsServer> {
  const { Registry } = await import('prom-client')
  const registry = new Registry()
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics\n')
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end()
      return
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType })
        res.end(req.method === 'HEAD' ? undefined : text)
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`)
      },
    )
  })
  await listen(server, address)
  const bound = server.address()
  const port = typeof bound === 'object' && bound !== null ? bound.port : address.port
  const host = isIP(address.host) === 6 ? `[${address.host}]` : address.host
  const url = `http://${host}:${port}/metrics`
  out.event({ event: 'metrics', url }, `metrics on ${url}`)
  let closing: Promise<void> | null = null
  return {
    registry,
    url,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        // A scraper's keep-alive connection would hold the close open.
        server.closeAllConnections()
      })
      return closing
    },
  }
}

function listen(server: Server, { host, port }: MetricsAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    const onerror = (err: NodeJS.ErrnoException): void => {
      const where = `${host}:${port}`
      reject(
        new CliError(
          err.code === 'EADDRINUSE'
            ? `--metrics ${where} is already in use`
            : `cannot serve metrics on ${where}: ${err.code ?? err.message}`,
        ),
      )
    }
    server.once('error', onerror)
    server.listen(port, host, () => {
      server.removeListener('error', onerror)
      resolve()
    })
  })
}
