/**
 * Extension messages counted per connection and per extension name: a map lookup and a few
 * additions per message, nothing else (the figures are read only when stats or metrics are
 * asked for). Counts are by name, so an extension registered again under the same name
 * carries on its predecessor's figures.
 */

export interface ExtensionCounts {
  /** Messages written to the connection (held ones once released). */
  sent: number
  /** Messages that arrived for an extension we have. */
  received: number
  /**
   * Messages given up: held for the peer and dropped (it never had the extension, refused
   * the channel or left), refused for a full hold, or received over the size limit or
   * undecodable.
   */
  dropped: number
  /** Payload bytes of the messages sent and received (not the framing). */
  bytesSent: number
  bytesReceived: number
}

export function zeroCounts(): ExtensionCounts {
  return { sent: 0, received: 0, dropped: 0, bytesSent: 0, bytesReceived: 0 }
}

function addCounts(into: ExtensionCounts, c: ExtensionCounts): void {
  into.sent += c.sent
  into.received += c.received
  into.dropped += c.dropped
  into.bytesSent += c.bytesSent
  into.bytesReceived += c.bytesReceived
}

/** One connection's counts, per extension name. */
export class LinkTally {
  private readonly byName = new Map<string, ExtensionCounts>()

  private of(name: string): ExtensionCounts {
    let counts = this.byName.get(name)
    if (counts === undefined) {
      counts = zeroCounts()
      this.byName.set(name, counts)
    }
    return counts
  }

  sent(name: string, bytes: number): void {
    const counts = this.of(name)
    counts.sent++
    counts.bytesSent += bytes
  }

  received(name: string, bytes: number): void {
    const counts = this.of(name)
    counts.received++
    counts.bytesReceived += bytes
  }

  dropped(name: string, messages = 1): void {
    this.of(name).dropped += messages
  }

  /** A copy of the counts, by extension name. */
  snapshot(): Record<string, ExtensionCounts> {
    const out: Record<string, ExtensionCounts> = {}
    for (const [name, counts] of this.byName) out[name] = { ...counts }
    return out
  }

  /** Adds these counts into `totals` (by name). */
  addTo(totals: Map<string, ExtensionCounts>): void {
    for (const [name, counts] of this.byName) {
      let total = totals.get(name)
      if (total === undefined) {
        total = zeroCounts()
        totals.set(name, total)
      }
      addCounts(total, counts)
    }
  }
}

/** The counts of connections that are gone, so per-extension totals never go down. */
export class RetiredTallies {
  private readonly totals = new Map<string, ExtensionCounts>()

  retire(tally: LinkTally): void {
    tally.addTo(this.totals)
  }

  /** Retired counts plus those of the live connections, by extension name. */
  sum(live: Iterable<LinkTally>): Record<string, ExtensionCounts> {
    const all = new Map<string, ExtensionCounts>()
    for (const [name, counts] of this.totals) all.set(name, { ...counts })
    for (const tally of live) tally.addTo(all)
    return Object.fromEntries(all)
  }
}
