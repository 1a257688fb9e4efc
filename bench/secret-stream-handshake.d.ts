// secret-stream's own handshake (its lib/handshake.js, not part of its typed surface): the
// bench times it to know what a Noise handshake costs in CPU.
declare module '@hyperswarm/secret-stream/lib/handshake.js' {
  interface KeyPair {
    publicKey: Buffer
    secretKey: Buffer
  }
  interface Step {
    data: Buffer | null
    remotePublicKey: Buffer | null
    hash: Buffer | null
    tx: Buffer | null
    rx: Buffer | null
  }
  export default class Handshake {
    constructor(
      isInitiator: boolean,
      keyPair: KeyPair,
      remotePublicKey: Buffer | null,
      pattern: string,
    )
    static keyPair(seed?: Buffer): KeyPair
    send(): Step | null
    recv(data: Buffer): Step | null
  }
}
