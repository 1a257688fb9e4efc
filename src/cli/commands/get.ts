import { rm } from 'node:fs/promises'
import b4a from 'b4a'
import type { Hypercore } from 'corestore'
import crypto from 'hypercore-crypto'
import type { BootstrapNode } from '../bootstrap.js'
import { CliError } from '../cli-error.js'
import type { MetricsAddress } from '../metrics-server.js'
import { type ContentSink, checkOutPath, openSink } from '../out-file.js'
import { bar, bytes, type Output, rate } from '../output.js'
import { type DirectOptions, openSession, parseKey, type Session } from '../session.js'
import { isStopping, onShutdown, untilInterrupted, workDone } from '../shutdown.js'
import { checkWritableStorage, storageState } from '../storage-dir.js'
import { discardCore, openStore, rememberedTopics } from '../store-cores.js'

/** Finds peers for a core, replicates all of it with progress, writes it out, verifies the length. */
export async function getCommand(opts: {
  key: string
  storage: string
  outFile: string | null
  live: boolean
  timeout: number
  bootstrap: BootstrapNode[] | null
  /** --lan, --tcp, --peer. */
  direct: DirectOptions
  /** --metrics: serve Prometheus metrics here. */
  metrics: MetricsAddress | null
  /** --stats: a live peer table. */
  stats: boolean
  out: Output
}): Promise<void> {
  // Every input is checked before the network is opened or anything is written.
  const key = parseKey(opts.key)
  const target = await checkOutPath(opts.outFile)
  checkWritableStorage(opts.storage)
  const createdStorage = storageState(opts.storage) === 'missing'
  // A plain get remembers nothing (rerunning it resumes from the blocks kept in the store);
  // --live remembers its lookup, so seed on this storage keeps following the core.
  let session: Session
  try {
    session = await openSession({
      storage: opts.storage,
      bootstrap: opts.bootstrap,
      direct: opts.direct,
      out: opts.out,
      persist: opts.live,
      metrics: opts.metrics,
      stats: opts.stats,
    })
  } catch (err) {
    // A --tcp port in use fails after the storage was opened: leave nothing behind.
    if (createdStorage) await rm(opts.storage, { recursive: true, force: true })
    throw err
  }
  const short = `${opts.key.slice(0, 16)}…`
  const state = { total: 0, have: 0, fetched: 0, finished: false, stopped: false }
  let sink: ContentSink | null = null
  let newCore = false
  // Ctrl-C before the content is complete: say how far it got; the exit code is 130.
  // A get that fetched nothing leaves the storage as it found it, whether it failed or was
  // interrupted: no empty replica for status to list, no directory it made for nothing.
  const leaveAsFound = async (): Promise<void> => {
    if (state.finished || state.fetched > 0) return
    await session.close()
    if (createdStorage) await rm(opts.storage, { recursive: true, force: true })
    else if (newCore) await discardEmpty(opts.storage, key)
  }
  const unregister = onShutdown(async (reason) => {
    // No progress after this point: the report below is the last line.
    state.stopped = true
    await sink?.abort()
    // Peers leaving are reported on close: close first, so the report is the last line.
    await session.close()
    await leaveAsFound().catch(() => {})
    if (reason !== 'signal' || state.finished) return
    opts.out.result(
      { event: 'interrupted', key: opts.key, blocks: state.have, of: state.total },
      state.total === 0
        ? `interrupted while looking for a peer with core ${short}: nothing fetched`
        : state.have === state.total
          ? `interrupted while writing the content: all ${state.total} blocks of ${short} are in ${opts.storage}; run get again to write it`
          : `interrupted: ${state.have}/${state.total} blocks of ${short} are in ${opts.storage}; run get again to resume`,
    )
  })
  try {
    newCore = (await session.store.getAuth(crypto.discoveryKey(key))) === null
    const core = session.store.get({ key })
    await core.ready()
    // --peer alone fetches from the addresses given, with no discovery: the connection
    // replicates every core the store has open, this one included.
    const discover = opts.direct.peers.length === 0 || opts.direct.lan || opts.live
    if (discover || opts.bootstrap !== null) await lookup(session, core, opts.live)
    await waitForLength(core, opts.timeout, short)
    const started = performance.now()
    state.total = core.length
    await download(session, core, state, started, opts.out)
    if (state.stopped) return
    sink = await openSink(target)
    let written = 0
    for (let i = 0; i < state.total; i++) {
      const block = await core.get(i)
      if (block === null) throw new CliError(`block ${i} went missing`)
      written += block.byteLength
      await sink.write(block)
    }
    if (written !== core.byteLength) {
      throw new CliError(
        `length mismatch: wrote ${written} bytes, the core holds ${core.byteLength}`,
      )
    }
    await sink.commit()
    state.finished = true
    if (opts.live) workDone()
    const secs = (performance.now() - started) / 1000
    const done = {
      event: 'complete',
      key: b4a.toString(core.key, 'hex'),
      blocks: state.total,
      bytes: written,
      downloaded: state.fetched,
      seconds: Math.round(secs * 1000) / 1000,
    }
    const text =
      state.fetched === 0
        ? `complete: ${state.total} blocks, ${bytes(written)}, all already in ${opts.storage}, length verified`
        : `complete: ${state.total} blocks, ${bytes(written)} in ${secs.toFixed(2)} s (${rate(state.fetched, secs)}), length verified`
    if (opts.live) await follow(session, core, sink, state.total, done, opts.out)
    await sink.end()
    // Close first, so the result is the last line (peers leaving are reported on close).
    await session.close()
    opts.out.result(done, text)
  } catch (err) {
    await sink?.abort()
    if (isStopping()) return
    throw err
  } finally {
    unregister()
    await session.close()
    if (!isStopping()) await leaveAsFound()
  }
}

async function lookup(session: Session, core: Hypercore, live: boolean): Promise<void> {
  let announce = false
  if (live) {
    // Following a core this storage also serves keeps serving it: the record stays an announce.
    const dk = b4a.toString(core.discoveryKey, 'hex')
    const known = (await rememberedTopics(session.store)).find((t) => t.discoveryKey === dk)
    announce = known?.announce ?? false
  }
  await session.networker.configure(core.discoveryKey, { announce, lookup: true })
}

/**
 * Waits for a peer that has the core to tell us its length: the connection may be up before
 * the core's own replication channel on it is, so retry as core peers arrive.
 */
async function waitForLength(core: Hypercore, timeout: number, short: string): Promise<void> {
  const deadline = Date.now() + timeout
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
  if (core.length === 0)
    throw new CliError(`no peer has core ${short} (waited ${timeout / 1000} s)`)
}

/** Replicates blocks 0…total-1 with a progress bar; counts the bytes that came from peers. */
async function download(
  session: Session,
  core: Hypercore,
  state: { total: number; have: number; fetched: number; stopped: boolean },
  started: number,
  out: Output,
): Promise<void> {
  const { total } = state
  let lastPlain = -1
  const show = (): void => {
    const secs = (performance.now() - started) / 1000
    const fraction = state.have / total
    const step = Math.floor(fraction * 10)
    const peers = session.networker.peers.size
    // No rate for blocks that were already here: a local read is not a transfer.
    const speed = state.fetched > 0 ? `  ${rate(state.fetched, secs)}` : ''
    out.progress(
      { event: 'progress', blocks: state.have, of: total, peers },
      `${bar(fraction)} ${state.have}/${total} blocks  ${bytes(Math.round(core.byteLength * fraction))}${speed}  ${peers} peer(s)`,
      step !== lastPlain,
    )
    lastPlain = step
  }
  const onDownload = (_index: number, byteLength: number): void => {
    state.fetched += byteLength
    // Blocks land out of order: report only when the contiguous prefix grows.
    const now = Math.min(core.contiguousLength, total)
    if (now === state.have || state.stopped) return
    state.have = now
    show()
  }
  state.have = Math.min(core.contiguousLength, total)
  core.on('download', onDownload)
  try {
    await core.download({ start: 0, end: total }).done()
  } finally {
    // The bar covers the first `total` blocks; with --live, later ones are `append` events.
    core.off('download', onDownload)
  }
  if (state.stopped) return
  if (state.have !== total || lastPlain === -1) {
    state.have = total
    show()
  }
}

/** --live: keep writing each block the writer appends, until Ctrl-C (exit 0). */
async function follow(
  session: Session,
  core: Hypercore,
  sink: ContentSink,
  from: number,
  done: Record<string, unknown>,
  out: Output,
): Promise<never> {
  out.event(
    done,
    `complete: ${done.blocks} blocks, ${bytes(done.bytes as number)}; following new blocks (Ctrl-C to stop)`,
  )
  let next = from
  let writing = Promise.resolve()
  core.on('append', () => {
    // One writer at a time, in order, whatever the rate of appends.
    writing = writing.then(async () => {
      while (next < core.length) {
        const block = await core.get(next)
        next++
        if (block !== null) await sink.write(block)
      }
      out.event({ event: 'append', blocks: core.length }, `now ${core.length} blocks`)
    })
  })
  // Keep fetching every new block as it is announced, not only when asked for.
  core.download({ start: from, end: -1 })
  return untilInterrupted(async () => {
    await writing.catch(() => {})
    await sink.end()
    await session.close()
  })
}

/** Deletes the empty replica a failed get made in an existing storage. */
async function discardEmpty(storage: string, key: Buffer): Promise<void> {
  const store = await openStore(storage)
  try {
    const core = store.get({ key })
    await core.ready()
    if (core.contiguousLength === 0) await discardCore(core)
    else await core.close()
  } finally {
    await store.close()
  }
}
