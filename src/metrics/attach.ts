import { createRequire } from 'node:module'
import type { Counter, Gauge, Registry } from 'prom-client'
import { ErrorCode, NetworkerError } from '../core/errors.js'
import { FAMILIES, type Family, type Labels, PREFIX, RESERVED_LABELS } from './families.js'
import { addSamples, type MetricsSample, retiredSample } from './sample.js'

/**
 * The `metrics` option: a prom-client Registry, or one with constant labels telling this
 * networker's series from those of other networkers on the same registry.
 */
export type MetricsOption = Registry | { registry: Registry; labels?: Record<string, string> }

/** A networker's part in a registry's metrics: `retire()` once it is closed. */
export interface MetricsHandle {
  retire(): void
}

type PromClient = typeof import('prom-client')
let loaded: PromClient | null = null

/** prom-client is loaded only by a networker given a registry: nobody else pays for it. */
function promClient(): PromClient {
  loaded ??= createRequire(import.meta.url)('prom-client') as PromClient
  return loaded
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** Checks the option; INVALID_OPTION names what is wrong. */
export function metricsOptionOf(value: unknown): { registry: Registry; labels: Labels } {
  const isRegistry = (r: unknown): r is Registry =>
    typeof r === 'object' &&
    r !== null &&
    typeof (r as Registry).registerMetric === 'function' &&
    typeof (r as Registry).getSingleMetric === 'function'
  if (isRegistry(value)) return { registry: value, labels: {} }
  const opts = value as { registry?: unknown; labels?: unknown } | null
  if (typeof opts !== 'object' || opts === null || !isRegistry(opts.registry)) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      'metrics must be a prom-client Registry, or { registry, labels }',
    )
  }
  const labels = opts.labels ?? {}
  if (typeof labels !== 'object' || labels === null) {
    throw new NetworkerError(ErrorCode.INVALID_OPTION, 'metrics.labels must be an object')
  }
  for (const [name, v] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__') || RESERVED_LABELS.has(name)) {
      throw new NetworkerError(
        ErrorCode.INVALID_OPTION,
        `metrics.labels: '${name}' is not a label name of its own (reserved: ${[...RESERVED_LABELS].join(', ')})`,
      )
    }
    if (typeof v !== 'string') {
      throw new NetworkerError(ErrorCode.INVALID_OPTION, `metrics.labels.${name} must be a string`)
    }
  }
  return { registry: opts.registry, labels: labels as Labels }
}

interface Source {
  labels: Labels
  sample(): MetricsSample
}

/**
 * The networker metrics of one registry, shared by every networker on it: each family is
 * registered once, and computes its values when scraped (prom-client's `collect`), from
 * one sample per networker taken at the start of the scrape. Nothing runs between scrapes.
 */
class RegistryMetrics {
  readonly labelNames: readonly string[]
  private readonly live = new Set<Source>()
  /** What closed networkers left, one merged sample per label set. */
  private readonly retired = new Map<string, Source>()
  private scrape: Map<string, { labels: Labels; sample: MetricsSample }> | null = null

  constructor(registry: Registry, labelNames: readonly string[]) {
    this.labelNames = labelNames
    const client = promClient()
    const metrics = FAMILIES.map((family) => {
      const config = {
        name: PREFIX + family.name,
        help: family.help,
        labelNames: [...labelNames, ...family.labels],
        registers: [],
        collect: (): void => this.fill(family, metric),
      }
      const metric: Counter | Gauge =
        family.type === 'counter' ? new client.Counter(config) : new client.Gauge(config)
      return metric
    })
    // checkMetricsOption found every name free.
    for (const metric of metrics) registry.registerMetric(metric)
  }

  add(source: Source): void {
    this.live.add(source)
  }

  /** A closed networker: its final counts stay, merged with others of the same labels. */
  retire(source: Source): void {
    if (!this.live.delete(source)) return
    const key = JSON.stringify(source.labels)
    const last = retiredSample(source.sample())
    const earlier = this.retired.get(key)
    const merged = earlier === undefined ? last : addSamples(earlier.sample(), last)
    this.retired.set(key, { labels: source.labels, sample: () => merged })
  }

  private fill(family: Family, metric: Counter | Gauge): void {
    metric.reset()
    for (const { labels, sample } of this.samples()) {
      for (const [own, value] of family.values(sample)) metric.inc({ ...labels, ...own }, value)
    }
  }

  /**
   * The samples of this scrape, by label set. prom-client calls every family's `collect`
   * in one synchronous pass, so the first computes them and a microtask forgets them:
   * one sample per networker per scrape, however many families.
   */
  private samples(): Iterable<{ labels: Labels; sample: MetricsSample }> {
    if (this.scrape !== null) return this.scrape.values()
    const scrape = new Map<string, { labels: Labels; sample: MetricsSample }>()
    for (const source of [...this.retired.values(), ...this.live]) {
      const key = JSON.stringify(source.labels)
      const sample = source.sample()
      const earlier = scrape.get(key)
      scrape.set(key, {
        labels: source.labels,
        sample: earlier === undefined ? sample : addSamples(earlier.sample, sample),
      })
    }
    this.scrape = scrape
    queueMicrotask(() => {
      this.scrape = null
    })
    return scrape.values()
  }
}

const byRegistry = new WeakMap<Registry, RegistryMetrics>()

/**
 * Every check `attachMetrics` makes, without registering anything: the networker runs it
 * before it makes its swarm, so a bad option costs nothing. Every networker on one
 * registry must use the same label names, and our metric names must be free (or ours).
 */
export function checkMetricsOption(option: unknown): { registry: Registry; labels: Labels } {
  const checked = metricsOptionOf(option)
  const names = Object.keys(checked.labels).sort()
  const metrics = byRegistry.get(checked.registry)
  if (metrics === undefined) {
    for (const family of FAMILIES) {
      if (checked.registry.getSingleMetric(PREFIX + family.name) !== undefined) {
        throw new NetworkerError(
          ErrorCode.INVALID_OPTION,
          `metrics: the registry already has a metric named ${PREFIX}${family.name}`,
        )
      }
    }
  } else if (metrics.labelNames.join() !== names.join()) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `metrics.labels: every networker on one registry must use the same label names (${metrics.labelNames.join(', ') || 'none'})`,
    )
  }
  return checked
}

/** Adds a networker's metrics to the registry (registering the families on first use). */
export function attachMetrics(option: unknown, sample: () => MetricsSample): MetricsHandle {
  const { registry, labels } = checkMetricsOption(option)
  let metrics = byRegistry.get(registry)
  if (metrics === undefined) {
    metrics = new RegistryMetrics(registry, Object.keys(labels).sort())
    byRegistry.set(registry, metrics)
  }
  const source: Source = { labels, sample }
  metrics.add(source)
  const owner = metrics
  return { retire: () => owner.retire(source) }
}
