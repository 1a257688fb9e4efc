// The one libsodium call this package makes itself (topic proofs); not shipped: nothing in
// the published declarations names it.
declare module 'sodium-universal' {
  const sodium: {
    /** BLAKE2b over the concatenation of `batch`, keyed by `key` (up to 64 bytes), into `output`. */
    crypto_generichash_batch(output: Uint8Array, batch: Uint8Array[], key?: Uint8Array): void
  }
  export default sodium
}
