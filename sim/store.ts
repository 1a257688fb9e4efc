import type { SwarmConnection } from '../src/io/swarm.js'

/**
 * Stands in for a Corestore: records what it was asked to replicate. Real replication is
 * covered by the integration tests; here only the networker's choices matter.
 */
export class SimStore {
  readonly replicated: SwarmConnection[] = []

  replicate(stream: SwarmConnection): void {
    this.replicated.push(stream)
  }
}
