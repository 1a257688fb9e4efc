// The libsodium calls this package makes itself (topic proofs, LAN labels); not shipped: nothing in
// the published declarations names it.
declare module 'sodium-universal' {
  const sodium: {
    /** BLAKE2b over the concatenation of `batch`, keyed by `key` (up to 64 bytes), into `output`. */
    crypto_generichash_batch(output: Uint8Array, batch: Uint8Array[], key?: Uint8Array): void
    /** BLAKE2b of `input`, keyed by `key` (up to 64 bytes), into `output`. */
    crypto_generichash(output: Uint8Array, input: Uint8Array, key?: Uint8Array): void
    /** Whether two buffers of one length are equal, in time independent of their contents. */
    sodium_memcmp(a: Uint8Array, b: Uint8Array): boolean
  }
  export default sodium
}
