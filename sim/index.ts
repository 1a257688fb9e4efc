/**
 * @web4/chainstore-networker/sim: a deterministic in-memory network for testing
 * applications built on the networker under faults. One seed replays one run exactly.
 */
export { SimDht } from './dht.js'
export { INVARIANTS, type InvariantName, InvariantViolation } from './invariant.js'
export { LanPort } from './lan.js'
export { checkLanPartition, type LanPartitionResult } from './lan-partition.js'
export { Link, SimRawStream, type SimTransport } from './link.js'
export {
  type FaultCounts,
  type FaultPlan,
  type NetworkOptions,
  NO_FAULTS,
  SimNetwork,
} from './network.js'
export { SimNode, type SimNodeOptions, type TopicWish } from './node.js'
export { Prng } from './prng.js'
export { runScale, type ScaleOptions, type ScaleResult } from './scale.js'
export { drawFaults, runScenario, type ScenarioOptions, type ScenarioResult } from './scenario.js'
export { StandInSecretStream } from './stand-in-stream.js'
export { SimStore } from './store.js'
export { SimSwarm } from './swarm.js'
export { drain, UnsettledError, VirtualClock } from './virtual-clock.js'
