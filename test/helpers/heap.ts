import { getHeapSnapshot, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/**
 * The bytes of every object in the heap, from V8's heap snapshot, less its compiled code
 * (and the snapshot's synthetic root entries). That code is the JIT's, not ours, and it moves
 * on its own: `heapUsed` over the same 500 leak-free cycles went from -400 to +770 KB between
 * runs, and a snapshot diff of such a window held only code (a 146 KB optimized function and
 * 115 KB of deopt data released), so a leak of a few hundred KB hid in it. Without the code
 * the cycles move the heap by tens of KB, and a leak of 1.3 KB per cycle shows as 700 KB.
 */
const NOT_OBJECTS = new Set(['code', 'synthetic'])

export async function objectBytes(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r))
    gc()
  }
  const chunks: Buffer[] = []
  for await (const chunk of getHeapSnapshot()) chunks.push(chunk as Buffer)
  const snapshot = JSON.parse(Buffer.concat(chunks).toString()) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }
    nodes: number[]
  }
  const { node_fields: fields, node_types: types } = snapshot.snapshot.meta
  const typeAt = fields.indexOf('type')
  const sizeAt = fields.indexOf('self_size')
  let total = 0
  const { nodes } = snapshot
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[0][nodes[i + typeAt] as number] as string
    if (!NOT_OBJECTS.has(type)) total += nodes[i + sizeAt] as number
  }
  return total
}
