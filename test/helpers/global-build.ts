import { ensureBuilt } from './build.js'

// Build once before any worker starts: a build inside one worker would rewrite dist while
// tests in the other worker run code from it.
export default function setup(): void {
  ensureBuilt()
}
