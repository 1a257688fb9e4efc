import type { Clock } from '../core/clock.js'
import { ErrorCode, type ErrorInfo } from '../core/errors.js'
import { bytesToHex, type KeyHex } from '../core/keys.js'
import type { CoreEvent, OpId } from '../core/protocol.js'
import type { ClaimedTopics } from './claimed-topics.js'
import { type DhtStatus, dhtStatusOf, watchDht } from './dht-state.js'
import { deriveKeyPair } from './identity.js'
import { LeaveSlices } from './leave-slices.js'
import { createHyperswarm, type SwarmConnection, type SwarmLike } from './swarm.js'
import { bytesOf, messageOf, noop } from './util.js'

/** Which swarm to use: the caller's, or a Hyperswarm made with these options. */
export interface SwarmPlan {
  given: SwarmLike | undefined
  hyperswarm: Record<string, unknown>
  /**
   * Make the Hyperswarm with a key pair derived from this store (a persisting networker's
   * one identity across restarts), once the store has opened; null to make it at once.
   */
  deriveFrom: unknown
  /** LAN discovery (the `lan` option), run beside the swarm's; null when it is off. */
  lan?: LanPlan | null
}

/** What the adapter asks of LAN discovery: each topic operation runs there too. */
export interface LanLink {
  join(topic: KeyHex, announce: boolean, lookup: boolean): void
  leave(topic: KeyHex): void
  /** A lookup round: resolves once answers had their window and the dials they started ended. */
  flush(topic: KeyHex): Promise<void>
  close(): Promise<void>
}

export interface LanPlan {
  link: LanLink
  clock: Clock
  /**
   * With LAN discovery on, how long a join or flush waits for a DHT that is connecting or
   * offline before it goes on without it (ms).
   */
  dhtWait: number
}

export interface SwarmAdapterHooks {
  /**
   * Our claimed topics (the topic proofs'), where the session each was joined with is kept,
   * to be refreshed when its configuration changes.
   */
  topics: ClaimedTopics
  /** Reports how a join, leave or flush went to the core. */
  dispatch(event: CoreEvent): void
  /** The swarm exists: its public key is the networker's identity. */
  identified(publicKey: KeyHex): void
  /** The swarm's 'connection' listener. */
  connection(conn: SwarmConnection, info?: { topics?: unknown }): void
  /** The DHT's reachability changed. */
  dhtChanged(status: DhtStatus): void
}

/**
 * The swarm, as the core's effects use it: topics are joined, refreshed, left and flushed
 * here, and the swarm is made and destroyed here. The swarm may not exist yet (its key pair
 * is derived from the store first), so each operation runs once it does. Each result goes
 * back to the core as an event carrying the op it answers.
 */
export class SwarmAdapter {
  /** Resolves to the swarm once it exists (at once unless the identity is derived). */
  readonly ready: Promise<SwarmLike>
  private swarm: SwarmLike | null = null
  /** Where each joined topic's session is kept (the claimed topics); null once closing. */
  private sessions: ClaimedTopics | null
  private unwatchDht: () => void = noop
  private readonly lan: LanPlan | null
  /** An operation waited `dhtWait` for a DHT that stayed connecting or offline. */
  private dhtWaitedInVain = false
  /** The topic being configured and the key bytes its caller gave (`keyGiven`). */
  private givenTopic: KeyHex | null = null
  private givenKey: Buffer | null = null
  /** A close's leaves, once closing (leave-slices.ts). */
  private closeLeaves: LeaveSlices | null = null

  constructor(
    plan: SwarmPlan,
    private readonly hooks: SwarmAdapterHooks,
  ) {
    this.lan = plan.lan ?? null
    this.sessions = hooks.topics
    if (plan.deriveFrom !== null) {
      // The key pair comes from the store's own secret, which is only known once the store
      // is open, so the swarm is made then.
      this.ready = deriveKeyPair(plan.deriveFrom).then((keyPair) =>
        this.adopt(createHyperswarm({ ...plan.hyperswarm, keyPair })),
      )
      this.ready.catch(noop)
    } else {
      this.ready = Promise.resolve(this.adopt(plan.given ?? createHyperswarm(plan.hyperswarm)))
    }
  }

  /** The swarm, or null while it is still being made. */
  get current(): SwarmLike | null {
    return this.swarm
  }

  get dhtStatus(): DhtStatus {
    return dhtStatusOf((this.swarm as { dht?: unknown } | null)?.dht)
  }

  /**
   * The caller of a configure gave `key` as the topic's bytes: a join run within that
   * configure (the swarm exists, so its join runs at once) joins with them, as Hyperswarm's
   * own `join(topic)` and the original module do, instead of decoding the hex again: no
   * second copy of the key per topic (about 100 B of heap) and no decode per configure.
   * `keyGiven(null, null)` once the configure was handled.
   */
  keyGiven(topic: KeyHex | null, key: Buffer | null): void {
    this.givenTopic = topic
    this.givenKey = key
  }

  /** Joins the topic, or changes how it is joined; reported once the DHT has been told. */
  join(topic: KeyHex, op: OpId, announce: boolean, lookup: boolean): void {
    // On the LAN at once, whatever the DHT takes.
    this.lan?.link.join(topic, announce, lookup)
    // Every configure joins: no async function, no wait for a swarm that already exists.
    this.onSwarm(this.joinOn, topic, joinOptions(announce, lookup)).then(
      () => this.hooks.dispatch({ type: 'topic-joined', topic, op }),
      (err: unknown) =>
        this.hooks.dispatch({
          type: 'topic-join-failed',
          topic,
          op,
          error: failure(ErrorCode.TOPIC_JOIN_FAILED, 'joining the topic failed', err),
        }),
    )
  }

  leave(topic: KeyHex, op: OpId): void {
    this.sessions?.left(topic)
    this.lan?.link.leave(topic)
    if (this.closeLeaves === null) this.startLeave(topic, op)
    else this.closeLeaves.add(topic, op)
  }

  /** Leaves the topic on the swarm; reported once it answered. */
  private readonly startLeave = (topic: KeyHex, op: OpId): void => {
    this.onSwarm(leaveOn, topic, null).then(
      () => this.hooks.dispatch({ type: 'topic-left', topic, op }),
      (err: unknown) =>
        this.hooks.dispatch({
          type: 'topic-leave-failed',
          topic,
          op,
          error: failure(ErrorCode.TOPIC_LEAVE_FAILED, 'leaving the topic failed', err),
        }),
    )
  }

  /**
   * Flushes the swarm (every pending dial and announce done) for a topic's op, and with LAN
   * discovery on, waits for a LAN lookup round of the topic as well.
   */
  flush(topic: KeyHex, op: OpId): void {
    const lan = this.lan?.link.flush(topic)
    this.onSwarm(this.flushOn, topic, lan).then(
      () => this.hooks.dispatch({ type: 'swarm-flushed', topic, op }),
      (err: unknown) =>
        this.hooks.dispatch({
          type: 'swarm-flush-failed',
          topic,
          op,
          error: failure(ErrorCode.FLUSH_FAILED, 'swarm flush failed', err),
        }),
    )
  }

  /**
   * The networker closes: every topic is left now and none is joined again, so no session is
   * kept or looked up any more. Each leave's look-up found an entry in a map of every topic;
   * at 100,000 topics those were a fifth of the close. The close's leaves start a slice at a
   * time (leave-slices.ts).
   */
  closing(): void {
    this.sessions = null
    this.closeLeaves = new LeaveSlices(this.startLeave)
  }

  /** Hyperswarm's `listen`: accept direct connections to our key. */
  async listen(): Promise<void> {
    const swarm = await this.ready
    await swarm.listen?.()
  }

  /** Destroys the swarm; `done` runs once it is destroyed, failed to be, or was never made. */
  destroy(done: () => void): void {
    this.sessions = null
    const lan = this.lan?.link.close().catch(noop)
    const finish = (): void => {
      if (lan === undefined) done()
      else lan.then(done)
    }
    this.onSwarm(destroyOn, '', null).then(finish, finish)
  }

  /** Stops listening to the swarm and its DHT (the networker is closed). */
  release(): void {
    this.swarm?.removeListener('connection', this.hooks.connection)
    this.unwatchDht()
  }

  private adopt(swarm: SwarmLike): SwarmLike {
    this.swarm = swarm
    this.hooks.identified(bytesToHex(swarm.keyPair.publicKey))
    swarm.on('connection', this.hooks.connection)
    this.unwatchDht = watchDht((swarm as { dht?: unknown }).dht, this.hooks.dhtChanged)
    return swarm
  }

  /**
   * A DHT operation, as long as LAN discovery should wait for it: all of it while the DHT is
   * online (or cannot be watched); while it is connecting or offline, at most `dhtWait`, and
   * not at all once one operation has waited that long in vain (until the DHT is online
   * again). With no bootstrap node reachable, a HyperDHT's first join takes ~12 s to give up
   * and each later join or flush ~6 s; peers on the LAN need none of it. The operation goes on
   * in the background.
   */
  private besideLan(operation: Promise<unknown>): Promise<unknown> {
    const lan = this.lan
    if (lan === null) return operation
    const unreachable = (): boolean => {
      const { state } = this.dhtStatus
      return state === 'connecting' || state === 'offline'
    }
    if (!unreachable()) this.dhtWaitedInVain = false
    else if (this.dhtWaitedInVain) {
      operation.catch(noop)
      return Promise.resolve()
    }
    return new Promise((resolve, reject) => {
      const timer = lan.clock.setTimeout(() => {
        if (!unreachable()) return
        this.dhtWaitedInVain = true
        resolve(undefined)
      }, lan.dhtWait)
      operation.then(
        (value) => {
          lan.clock.clearTimeout(timer)
          resolve(value)
        },
        (err: unknown) => {
          lan.clock.clearTimeout(timer)
          reject(err)
        },
      )
    })
  }

  /**
   * `use(swarm, topic, arg)` as a promise: called at once on a swarm that exists, else once it
   * does (never if it could not be made). A throw is a rejection, answered on a later turn
   * like one. `use` is one function made once, given what it needs: an operation (one per
   * configure and per topic left) makes no closure here.
   */
  private onSwarm<A>(use: SwarmUse<A>, topic: KeyHex, arg: A): Promise<unknown> {
    const swarm = this.swarm
    if (swarm === null) return this.ready.then((ready) => use(ready, topic, arg))
    try {
      return Promise.resolve(use(swarm, topic, arg))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  private readonly joinOn: SwarmUse<JoinOptions> = (swarm, topic, opts) => {
    // A claimed topic's entry, written just before by its configure's claim.
    const sessions = this.sessions
    const session = sessions?.session(topic)
    if (session?.refresh !== undefined) {
      return Promise.resolve(session.refresh(opts)).then(() => this.besideLan(session.flushed()))
    }
    const given = topic === this.givenTopic ? this.givenKey : null
    const fresh = swarm.join(given ?? bytesOf(topic), opts)
    // Kept only for a topic still claimed: an unclaimed one is being left (claimed-topics.ts).
    if (session !== undefined) sessions?.keep(topic, fresh)
    return this.besideLan(Promise.resolve(fresh.flushed()))
  }

  private readonly flushOn: SwarmUse<Promise<void> | undefined> = (swarm, _topic, lan) => {
    const own = this.besideLan(Promise.resolve(swarm.flush()))
    // Without LAN discovery (most networkers), the swarm's flush alone: no list to wait on.
    return lan === undefined ? own : Promise.all([own, lan])
  }
}

/** An operation on the swarm, made once: the topic and one more thing are its arguments. */
type SwarmUse<A> = (swarm: SwarmLike, topic: KeyHex, arg: A) => unknown

interface JoinOptions {
  readonly server: boolean
  readonly client: boolean
}

/**
 * The swarm's join options, one object per combination, made once: the swarm reads them
 * (Hyperswarm copies both flags into its session) and keeps none.
 */
const JOIN_OPTIONS: readonly JoinOptions[] = [
  Object.freeze({ server: false, client: false }),
  Object.freeze({ server: false, client: true }),
  Object.freeze({ server: true, client: false }),
  Object.freeze({ server: true, client: true }),
]

function joinOptions(announce: boolean, lookup: boolean): JoinOptions {
  return JOIN_OPTIONS[(announce ? 2 : 0) + (lookup ? 1 : 0)] as JoinOptions
}

const leaveOn: SwarmUse<null> = (swarm, topic) => swarm.leave(bytesOf(topic))
const destroyOn: SwarmUse<null> = (swarm) => swarm.destroy()

/** The error a swarm operation's failure is reported to the core with. */
function failure(code: ErrorInfo['code'], what: string, err: unknown): ErrorInfo {
  return { code, message: `${what}: ${messageOf(err)}` }
}
