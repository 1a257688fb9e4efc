import { hexToBytes, type KeyHex } from '../core/keys.js'
import { epochOf, labelOf } from './lan-wire.js'

/**
 * A set of topics and the labels they go by on the LAN now, both ways: a topic's label to put
 * in a query or answer, and the topic a received label stands for. A label is recognised in
 * the current epoch and the one either side, so two hosts whose clocks differ by less than an
 * epoch (15 min) still meet across a bucket boundary. Labels are hashed once per topic and
 * epoch, never per packet: a packet costs one map lookup per label it carries.
 */
export class LabelBook {
  private readonly keys = new Map<KeyHex, Uint8Array>()
  /** Each label of the three epochs around `epoch`, to its topic. */
  private readonly byLabel = new Map<string, KeyHex>()
  /** Each topic's three labels (previous, current, next epoch). */
  private readonly labels = new Map<KeyHex, readonly [string, string, string]>()
  private epoch = Number.NaN

  constructor(private readonly wallNow: () => number) {}

  get size(): number {
    return this.keys.size
  }

  has(topic: KeyHex): boolean {
    return this.keys.has(topic)
  }

  topics(): IterableIterator<KeyHex> {
    return this.keys.keys()
  }

  add(topic: KeyHex): void {
    if (this.keys.has(topic)) return
    this.keys.set(topic, hexToBytes(topic))
    this.sync()
    this.index(topic)
  }

  delete(topic: KeyHex): void {
    if (!this.keys.delete(topic)) return
    for (const label of this.labels.get(topic) ?? []) this.byLabel.delete(label)
    this.labels.delete(topic)
  }

  /** The topic's discovery key as bytes, or null if it is not in the book. */
  discoveryKey(topic: KeyHex): Uint8Array | null {
    return this.keys.get(topic) ?? null
  }

  /** The label a topic goes by in the current epoch (the topic must be in the book). */
  current(topic: KeyHex): string {
    this.sync()
    const labels = this.labels.get(topic)
    if (labels === undefined) throw new Error(`LabelBook: ${topic} is not in the book`)
    return labels[1]
  }

  /** The topic a received label stands for, with its discovery key; null if none of ours. */
  find(label: string): { topic: KeyHex; discoveryKey: Uint8Array } | null {
    this.sync()
    const topic = this.byLabel.get(label)
    if (topic === undefined) return null
    const discoveryKey = this.keys.get(topic)
    return discoveryKey === undefined ? null : { topic, discoveryKey }
  }

  /** Re-labels every topic when the epoch has changed since the last look. */
  private sync(): void {
    const epoch = epochOf(this.wallNow())
    if (epoch === this.epoch) return
    this.epoch = epoch
    this.byLabel.clear()
    this.labels.clear()
    for (const topic of this.keys.keys()) this.index(topic)
  }

  private index(topic: KeyHex): void {
    const key = this.keys.get(topic)
    if (key === undefined) return
    const e = this.epoch
    const labels = [labelOf(key, e - 1), labelOf(key, e), labelOf(key, e + 1)] as const
    this.labels.set(topic, labels)
    for (const label of labels) this.byLabel.set(label, topic)
  }
}
