/**
 * What LAN discovery counts, for `stats().totals`. Counters only go up; a networker without
 * LAN discovery reports them all as zero.
 */
export interface LanCounters {
  /** Query packets we multicast (each asks for up to 20 topics). */
  lanQueriesSent: number
  /** Answer packets we multicast, asked or unasked. */
  lanAnswersSent: number
  /** Queries left unanswered, in whole or part, by the answer rate limits. */
  lanQueriesThrottled: number
  /** Answers for a topic we look up whose MAC verified (our own echoes excluded). */
  lanAnswersAccepted: number
  /**
   * Records under our service name that we ignored: not a well-formed answer (wrong type,
   * oversized or malformed TXT), or an answer for a topic we look up whose MAC did not verify.
   */
  lanAnswersRejected: number
  /** Datagrams on the mDNS port that did not decode as DNS at all. */
  lanPacketsMalformed: number
  /** Direct TCP dials of keys found on the LAN. */
  lanDials: number
  /** Of those, dials that did not end with the key as a peer. */
  lanDialsFailed: number
}

export function zeroLanCounters(): LanCounters {
  return {
    lanQueriesSent: 0,
    lanAnswersSent: 0,
    lanQueriesThrottled: 0,
    lanAnswersAccepted: 0,
    lanAnswersRejected: 0,
    lanPacketsMalformed: 0,
    lanDials: 0,
    lanDialsFailed: 0,
  }
}
