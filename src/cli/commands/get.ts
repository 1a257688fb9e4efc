import { createWriteStream, type WriteStream } from 'node:fs'
import b4a from 'b4a'
import type { BootstrapNode } from '../bootstrap.js'
import { CliError } from '../cli-error.js'
import { bar, bytes, type Output } from '../output.js'
import { openSession, parseKey } from '../session.js'
import { untilInterrupted } from '../shutdown.js'

/** Finds peers for a core, replicates all of it with progress, writes it out, verifies the length. */
export async function getCommand(opts: {
  key: string
  storage: string
  outFile: string | null
  live: boolean
  timeout: number
  bootstrap: BootstrapNode[] | null
  out: Output
}): Promise<void> {
  const key = parseKey(opts.key)
  const session = await openSession({
    storage: opts.storage,
    create: true,
    bootstrap: opts.bootstrap,
    out: opts.out,
  })
  let sink: WriteStream | NodeJS.WriteStream | null = null
  try {
    const core = session.store.get({ key })
    await core.ready()
    await session.networker.configure(core.discoveryKey, { announce: false, lookup: true })
    // Wait for a peer that has the core to tell us its length: the connection may be up
    // before the core's own replication channel on it is, so retry as core peers arrive.
    const deadline = Date.now() + opts.timeout
    while (core.length === 0 && Date.now() < deadline) {
      if (core.peers.length > 0) await core.update({ wait: true })
      if (core.length > 0) break
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer)
          core.removeListener('peer-add', done)
          core.removeListener('append', done)
          resolve()
        }
        const timer = setTimeout(done, Math.min(1000, Math.max(0, deadline - Date.now())))
        core.on('peer-add', done)
        core.on('append', done)
      })
    }
    if (core.length === 0) {
      throw new CliError(
        `no peer has core ${opts.key.slice(0, 16)}… (waited ${opts.timeout / 1000} s)`,
      )
    }
    const total = core.length
    const started = performance.now()
    let have = 0
    let lastPlain = -1
    const show = (): void => {
      const secs = (performance.now() - started) / 1000
      const fraction = have / total
      const step = Math.floor(fraction * 10)
      const rate = secs > 0 ? (core.byteLength * fraction) / secs : 0
      opts.out.progress(
        { event: 'progress', blocks: have, of: total, peers: session.networker.peers.size },
        `${bar(fraction)} ${have}/${total} blocks  ${bytes(Math.round(core.byteLength * fraction))}  ${bytes(Math.round(rate))}/s  ${session.networker.peers.size} peer(s)`,
        step !== lastPlain,
      )
      lastPlain = step
    }
    const onDownload = (): void => {
      // Blocks land out of order: report only when the contiguous prefix grows.
      const now = Math.min(core.contiguousLength, total)
      if (now === have) return
      have = now
      show()
    }
    core.on('download', onDownload)
    await core.download({ start: 0, end: total }).done()
    // The bar covers the first `total` blocks; with --live, later ones are `append` events.
    core.off('download', onDownload)
    if (have !== total) {
      have = total
      show()
    }
    sink =
      opts.outFile === null || opts.outFile === '-'
        ? process.stdout
        : createWriteStream(opts.outFile)
    let written = 0
    for (let i = 0; i < total; i++) {
      const block = await core.get(i)
      if (block === null) throw new CliError(`block ${i} went missing`)
      written += block.byteLength
      if (!sink.write(block)) await new Promise<void>((r) => sink?.once('drain', () => r()))
    }
    if (written !== core.byteLength) {
      throw new CliError(
        `length mismatch: wrote ${written} bytes, the core holds ${core.byteLength}`,
      )
    }
    const secs = (performance.now() - started) / 1000
    const done = {
      event: 'complete',
      key: b4a.toString(core.key, 'hex'),
      blocks: total,
      bytes: written,
      seconds: Number(secs.toFixed(3)),
    }
    if (opts.live) {
      opts.out.event(
        done,
        `complete: ${total} blocks, ${bytes(written)}; following new blocks (Ctrl-C to stop)`,
      )
      let next = total
      core.on('append', async () => {
        while (next < core.length) {
          const block = await core.get(next)
          next++
          if (block !== null) sink?.write(block)
        }
        opts.out.event({ event: 'append', blocks: core.length }, `now ${core.length} blocks`)
      })
      await untilInterrupted(async () => {
        await endSink(sink)
        await session.close()
      })
    }
    if (sink !== process.stdout) await endSink(sink)
    // Close first, so the result is the last line (peers leaving are reported on close).
    await session.close()
    opts.out.result(
      done,
      `complete: ${total} blocks, ${bytes(written)} in ${secs.toFixed(2)} s, length verified`,
    )
  } finally {
    await session.close()
  }
}

function endSink(sink: WriteStream | NodeJS.WriteStream | null): Promise<void> {
  if (sink === null || sink === process.stdout) return Promise.resolve()
  return new Promise((resolve) => sink.end(() => resolve()))
}
