import type { KeyHex } from '../core/keys.js'
import type { CoreEffect, CoreEvent, TopicNotice } from '../core/protocol.js'
import type { ConnectionTable } from './connections.js'
import type { DriverHooks } from './core-driver.js'
import type { ExtensionRegistry } from './extension-registry.js'
import type { NetworkerObserver } from './observer.js'
import type { NetworkerPeer } from './peer.js'
import type { FlushBarriers } from './replication-barrier.js'
import type { PendingRequests } from './requests.js'
import type { SwarmAdapter } from './swarm-adapter.js'

/**
 * How the user hears of what the effects did. Each call is the last thing its step does,
 * and the networker isolates it: whatever a listener throws, the effects after it run.
 */
export interface UserNotices {
  peerAdded(peer: NetworkerPeer): void
  peerRemoved(peer: NetworkerPeer): void
  /** A topic event, with the topic's key as hex: the key's bytes are made only for a listener. */
  topic(event: TopicNotice['type'], topic: KeyHex): void
  /** Whether anyone listens for the topic event. */
  listens(event: TopicNotice['type']): boolean
}

/** What the effects are carried out on. */
export interface EffectTargets {
  swarm: SwarmAdapter
  connections: ConnectionTable
  requests: PendingRequests
  extensions: ExtensionRegistry
  barriers: FlushBarriers
  /** Counts and logs what the effects do (dedup decisions, peers, topic operations). */
  observer: NetworkerObserver
  user: UserNotices
  /** Feeds an event to the core (the swarm's destruction). */
  dispatch(event: CoreEvent): void
  /** Stops the driver's timer: the core is closed and needs no more waking. */
  stopDriver(): void
  /**
   * What else must finish before the close is done (the remembered records' writes), or
   * undefined. The core hears the swarm destroyed only after it, so its close deadline
   * bounds this too.
   */
  teardown?(): Promise<unknown> | undefined
  /** Whether the core says the topic is flushed now (a later configure may have undone it). */
  flushed(topic: KeyHex): boolean
  /**
   * The swarm looked `topic` up (its join or flush is done): a peer we are connected to
   * already may have been found under it, which Hyperswarm records without an event.
   */
  looked(topic: KeyHex): void
}

/**
 * Carries out what the core decides, one effect at a time, in the order given, and turns
 * its topic notices into the user's events. The core holds the policy; this only says
 * which part of the I/O layer does each effect.
 */
export class EffectRunner implements DriverHooks {
  constructor(private readonly to: EffectTargets) {}

  run(effect: CoreEffect): void {
    const { swarm, connections, extensions, observer, user } = this.to
    switch (effect.type) {
      case 'join-topic':
        observer.topicEffect(effect)
        swarm.join(effect.topic, effect.op, effect.announce, effect.lookup)
        return
      case 'leave-topic':
        observer.topicEffect(effect)
        swarm.leave(effect.topic, effect.op)
        return
      case 'flush-swarm':
        observer.topicEffect(effect)
        swarm.flush(effect.topic, effect.op)
        return
      case 'authenticate':
        connections.authenticate(effect.connectionId)
        return
      case 'keep-connection':
        observer.kept(effect)
        connections.keep(effect.connectionId)
        return
      case 'drop-connection':
        observer.dropped(effect)
        connections.drop(effect.connectionId, effect.reason)
        return
      case 'peer-add': {
        const peer = connections.list(effect.connectionId)
        if (peer === null) return
        observer.peerAdded(peer)
        // Before the user hears of the peer, so a send from 'peer-add' finds its channel.
        extensions.attach(peer)
        user.peerAdded(peer)
        return
      }
      case 'peer-remove': {
        const peer = connections.unlist(effect.connectionId)
        if (peer === null) return
        observer.peerRemoved(peer)
        extensions.detach(peer)
        user.peerRemoved(peer)
        return
      }
      case 'settle':
        this.to.requests.settle(effect)
        return
      case 'destroy-swarm':
        extensions.destroyAll()
        swarm.destroy(() => this.finishClose())
        return
    }
  }

  /** A topic changed: tell the user (after the effects of the event that changed it). */
  notice(notice: TopicNotice): void {
    const { topic } = notice
    const { barriers, observer, user } = this.to
    observer.topicNotice(notice)
    if (notice.type === 'joined') {
      this.to.looked(topic)
      user.topic('joined', topic)
      return
    }
    if (notice.type === 'left') {
      barriers.forget(topic)
      user.topic('left', topic)
      return
    }
    // Flushed: the swarm flushed and every connection it found is settled. The flush also
    // covers replication: 'flushed' waits until the peers found for the topic replicate its
    // core. A flush undone meanwhile (the topic reconfigured) is not news.
    this.to.looked(topic)
    barriers.start(topic, this.replicated)
  }

  /**
   * The event's notices ran, so the barriers of its flushes have started: the flushing
   * configures it settled resolve now, after them.
   */
  handled(): void {
    this.to.requests.released()
  }

  /**
   * A flush's replication wait is over: news unless a later configure undid the flush. Every
   * flushing configure ends here: the topic is looked up only for a listener.
   */
  private readonly replicated = (topic: KeyHex): void => {
    const { user } = this.to
    if (user.listens('flushed') && this.to.flushed(topic)) user.topic('flushed', topic)
  }

  /** The swarm is destroyed (or could not be): the close completes. */
  private finishClose(): void {
    const done = (): void => {
      this.to.dispatch({ type: 'swarm-destroyed' })
      this.to.stopDriver()
      this.to.swarm.release()
      this.to.barriers.clear()
    }
    const rest = this.to.teardown?.()
    if (rest === undefined) done()
    else rest.then(done, done)
  }
}
