import { existsSync } from 'node:fs'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** What `put` wrote into a storage directory, so `seed` and `status` can find it. */
export interface WrittenCore {
  key: string
  name: string
  source: string
  blocks: number
  bytes: number
}

const FILE = 'chainstore-networker.json'

export async function readWritten(storage: string): Promise<WrittenCore[]> {
  const path = join(storage, FILE)
  if (!existsSync(path)) return []
  try {
    const data = JSON.parse(await readFile(path, 'utf8')) as { written?: WrittenCore[] }
    return Array.isArray(data.written) ? data.written : []
  } catch {
    return []
  }
}

export async function recordWritten(storage: string, core: WrittenCore): Promise<void> {
  const written = (await readWritten(storage)).filter((c) => c.key !== core.key)
  written.push(core)
  // Write then rename, so a crash never leaves half a file.
  const tmp = join(storage, `${FILE}.tmp`)
  await writeFile(tmp, `${JSON.stringify({ version: 1, written }, null, 2)}\n`)
  await rename(tmp, join(storage, FILE))
}
