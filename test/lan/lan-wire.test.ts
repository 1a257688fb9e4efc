import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import { describe, expect, it } from 'vitest'
import { bytesToHex } from '../../src/core/keys.js'
import { LabelBook } from '../../src/io/lan-labels.js'
import {
  answerData,
  EPOCH_MS,
  epochOf,
  LAN_SERVICE,
  labelOf,
  labelOfName,
  macVerifies,
  nameOf,
  parseRecord,
} from '../../src/io/lan-wire.js'

const dk = crypto.randomBytes(32)
const key = crypto.randomBytes(32)

function answerRecord(data: unknown, name = nameOf(labelOf(dk, 7)), type = 'TXT') {
  return { name, type, class: 'IN', ttl: 120, data }
}

/** The TXT strings as they come off the wire: Buffers. */
const wire = (strings: string[]) => strings.map((s) => b4a.from(s))

describe('LAN wire format', () => {
  it('labels are one DNS label of 32 hex characters, per topic and per epoch, and name no topic', () => {
    const label = labelOf(dk, 7)
    expect(label).toMatch(/^[0-9a-f]{32}$/)
    expect(labelOf(dk, 7)).toBe(label)
    expect(labelOf(dk, 8)).not.toBe(label)
    expect(labelOf(crypto.randomBytes(32), 7)).not.toBe(label)
    const hex = bytesToHex(dk)
    // Nothing of the discovery key shows: no 8-character run of its hex is in the label.
    for (let i = 0; i + 8 <= hex.length; i++) expect(label).not.toContain(hex.slice(i, i + 8))
    expect(nameOf(label)).toBe(`${label}.${LAN_SERVICE}`)
    expect(labelOfName(nameOf(label).toUpperCase())).toBe(label)
    expect(labelOfName('printer._ipp._tcp.local')).toBeNull()
    expect(epochOf(EPOCH_MS * 3 + 1)).toBe(3)
  })

  it('an answer we make parses and its MAC verifies under the topic only', () => {
    const label = labelOf(dk, 7)
    const parsed = parseRecord(answerRecord(wire(answerData(dk, label, key, 4242))))
    expect(parsed.kind).toBe('answer')
    if (parsed.kind !== 'answer') return
    expect(parsed.answer.label).toBe(label)
    expect(b4a.equals(parsed.answer.publicKey, key)).toBe(true)
    expect(parsed.answer.port).toBe(4242)
    expect(macVerifies(dk, parsed.answer)).toBe(true)
    expect(macVerifies(crypto.randomBytes(32), parsed.answer)).toBe(false)
  })

  it('a MAC does not carry over to another key, port or label', () => {
    const label = labelOf(dk, 7)
    const parsed = parseRecord(answerRecord(wire(answerData(dk, label, key, 4242))))
    if (parsed.kind !== 'answer') throw new Error('did not parse')
    const { answer } = parsed
    expect(macVerifies(dk, { ...answer, publicKey: crypto.randomBytes(32) })).toBe(false)
    expect(macVerifies(dk, { ...answer, port: 4243 })).toBe(false)
    expect(macVerifies(dk, { ...answer, label: labelOf(dk, 8) })).toBe(false)
  })

  it('reads records of other services as foreign, and malformed ones of ours as malformed', () => {
    const label = labelOf(dk, 7)
    const good = answerData(dk, label, key, 4242)
    expect(parseRecord(answerRecord(wire(good), 'printer._ipp._tcp.local')).kind).toBe('foreign')
    expect(parseRecord(null).kind).toBe('foreign')
    expect(parseRecord({ name: 42 }).kind).toBe('foreign')
    const malformed = (record: unknown): string => {
      const parsed = parseRecord(record)
      return parsed.kind === 'malformed' ? parsed.why : parsed.kind
    }
    expect(malformed(answerRecord('10.0.0.1', nameOf(label), 'A'))).toBe('type')
    expect(malformed(answerRecord(wire(good), nameOf('not-hex')))).toBe('label')
    expect(malformed(answerRecord(b4a.from('v=1')))).toBe('txt')
    const without = (k: string) => good.filter((s) => !s.startsWith(`${k}=`))
    expect(malformed(answerRecord(wire(without('k'))))).toBe('key')
    expect(malformed(answerRecord(wire(without('m'))))).toBe('mac')
    expect(malformed(answerRecord(wire(without('p'))))).toBe('port')
    expect(malformed(answerRecord(wire(without('v'))))).toBe('version')
    const withField = (k: string, v: string) => [...without(k), `${k}=${v}`]
    expect(malformed(answerRecord(wire(withField('v', '2'))))).toBe('version')
    for (const port of ['0', '65536', '080', '-1', '1e3', '']) {
      expect(malformed(answerRecord(wire(withField('p', port)))), port).toBe('port')
    }
    expect(malformed(answerRecord(wire(withField('k', 'zz'.repeat(32)))))).toBe('key')
    expect(malformed(answerRecord(wire(withField('k', 'AB'.repeat(32)))))).toBe('key')
    // Repeated keys, strings without '=', too many strings, too many bytes.
    expect(malformed(answerRecord(wire([...good, 'k=00'])))).toBe('txt')
    expect(malformed(answerRecord(wire([...good, 'junk'])))).toBe('txt')
    expect(malformed(answerRecord(wire([...good, ...['a=1', 'b=1', 'c=1', 'd=1', 'e=1']])))).toBe(
      'txt',
    )
    expect(
      malformed(answerRecord(wire([...good, `x=${'y'.repeat(250)}`, `z=${'y'.repeat(250)}`]))),
    ).toBe('txt')
    expect(malformed(answerRecord([...wire(good.slice(0, 3)), 42]))).toBe('txt')
  })

  it('a label book knows each topic by the labels of the current epoch and the ones either side', () => {
    let now = EPOCH_MS * 100 + 5
    const book = new LabelBook(() => now)
    const topic = bytesToHex(dk)
    book.add(topic)
    expect(book.current(topic)).toBe(labelOf(dk, 100))
    for (const epoch of [99, 100, 101]) expect(book.find(labelOf(dk, epoch))?.topic).toBe(topic)
    expect(book.find(labelOf(dk, 98))).toBeNull()
    expect(book.find(labelOf(dk, 102))).toBeNull()
    now += EPOCH_MS
    expect(book.current(topic)).toBe(labelOf(dk, 101))
    expect(book.find(labelOf(dk, 102))?.topic).toBe(topic)
    expect(book.find(labelOf(dk, 99))).toBeNull()
    book.delete(topic)
    expect(book.find(labelOf(dk, 101))).toBeNull()
    expect(book.size).toBe(0)
  })
})
