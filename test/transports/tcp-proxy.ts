import { once } from 'node:events'
import { type AddressInfo, connect, createServer, type Socket } from 'node:net'

/**
 * A TCP proxy on loopback in front of a port, that can be frozen: from then on it forwards
 * nothing either way and keeps every socket open — a silent cut, which TCP itself takes
 * minutes to notice.
 */
export async function freezableProxy(
  targetPort: number,
): Promise<{ port: number; freeze(): void; close(): Promise<void> }> {
  let frozen = false
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1')
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from)
      from.on('error', () => {})
      from.on('data', (data) => {
        if (!frozen) to.write(data)
      })
      from.on('close', () => {
        sockets.delete(from)
        // Frozen, a close is as silent as data: the other end must find out for itself.
        if (!frozen) to.destroy()
      })
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as AddressInfo).port,
    freeze: () => {
      frozen = true
    },
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
