import Handshake from '@hyperswarm/secret-stream/lib/handshake.js'

/**
 * One Noise XX handshake, both sides, computed synchronously: the CPU a connection's
 * handshake costs, without the stream turns that a busy machine stretches far more than
 * the synchronous core. It runs the very Handshake class secret-stream runs (noise-handshake
 * with noise-curve-ed): the initiator's first message, the responder's answer, the
 * initiator's last message, each unframed as secret-stream reads them. The static key pairs
 * exist already, as they do for a swarm; the ephemeral ones are made inside, as they are
 * for every connection.
 */
export function noiseHandshakeCpu(): () => void {
  const initiatorKeys = Handshake.keyPair()
  const responderKeys = Handshake.keyPair()
  return () => {
    const initiator = new Handshake(true, initiatorKeys, null, 'XX')
    const responder = new Handshake(false, responderKeys, null, 'XX')
    const first = initiator.send()
    const second = responder.recv(unframed(first))
    const third = initiator.recv(unframed(second))
    const done = responder.recv(unframed(third))
    const [a, b] = [third?.hash, done?.hash]
    if (a === null || a === undefined || b === null || b === undefined || !a.equals(b)) {
      throw new Error('bench: the Noise handshake did not complete alike at both ends')
    }
  }
}

/** secret-stream frames each handshake message with a 3-byte length; recv takes it without. */
function unframed(step: { data: Buffer | null } | null): Buffer {
  if (step?.data === null || step === null) throw new Error('bench: Noise handshake failed')
  return step.data.subarray(3)
}
