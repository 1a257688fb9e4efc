import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { CliError } from './cli-error.js'

/** What a --storage path is, told apart without opening (and so without creating) anything. */
export type StorageState = 'missing' | 'empty' | 'store' | 'not-a-store' | 'not-a-directory'

export function storageState(dir: string): StorageState {
  if (!existsSync(dir)) return 'missing'
  if (!statSync(dir).isDirectory()) return 'not-a-directory'
  // A Corestore 7 directory keeps its data in a RocksDB database under db/; CURRENT is the
  // file RocksDB cannot open without.
  if (existsSync(join(dir, 'db', 'CURRENT'))) return 'store'
  return readdirSync(dir).length === 0 ? 'empty' : 'not-a-store'
}

/** For commands that only use an existing store (seed, status, topics, forget). */
export function requireStore(dir: string): void {
  switch (storageState(dir)) {
    case 'store':
      return
    case 'missing':
      throw new CliError(`storage directory ${dir} does not exist`)
    case 'not-a-directory':
      throw new CliError(`storage ${dir} is a file, not a storage directory`)
    default:
      throw new CliError(
        `${dir} is not a storage directory (no Corestore in it); put or get create one`,
      )
  }
}

/** For commands that create a store when there is none (put, get): never inside other files. */
export function checkWritableStorage(dir: string): void {
  switch (storageState(dir)) {
    case 'not-a-directory':
      throw new CliError(`storage ${dir} is a file, not a storage directory`)
    case 'not-a-store':
      throw new CliError(
        `${dir} holds other files and no Corestore; give a new or empty directory for --storage`,
      )
    default:
      return
  }
}
