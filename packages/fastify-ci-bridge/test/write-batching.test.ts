import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { checkSendOptions } from '../src/codec.js'
import { batchSocketWrites, LINGER_MAX_BYTES } from '../src/write-batching.js'

/** A socket stand-in that records each batch of chunks it is asked to write (one batch: one system call). */
function recordingSocket(): { socket: Socket; batches: string[][] } {
  const batches: string[][] = []
  const socket = new Writable({
    writev(chunks, done) {
      batches.push(chunks.map((c) => String(c.chunk)))
      done()
    },
    write(chunk, _encoding, done) {
      batches.push([String(chunk)])
      done()
    },
  })
  return { socket: socket as unknown as Socket, batches }
}

test('write batching: a turn leaves in one write; a linger holds the next turns until it ends, once', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setImmediate'] })
  const { socket, batches } = recordingSocket()
  const batching = batchSocketWrites(socket)
  assert.equal(batchSocketWrites(socket), batching, 'installed once per socket')

  socket.write('a')
  socket.write('b')
  assert.deepEqual(batches, [], 'corked for the rest of the turn')
  t.mock.timers.tick(0)
  assert.deepEqual(batches, [['a', 'b']], 'the turn ends: one write')

  batching.linger(2)
  socket.write('c')
  t.mock.timers.tick(0)
  socket.write('d')
  batching.linger(50) // a second hold while one runs changes nothing
  t.mock.timers.tick(1)
  assert.deepEqual(batches, [['a', 'b']], 'held across turns')
  t.mock.timers.tick(1)
  assert.deepEqual(
    batches,
    [
      ['a', 'b'],
      ['c', 'd'],
    ],
    'the hold ends: both in one write',
  )

  socket.write('e')
  t.mock.timers.tick(0)
  assert.deepEqual(batches.at(-1), ['e'], 'no hold any more: the end of the turn')
  t.mock.timers.tick(100)
  assert.equal(batches.length, 3, 'nothing left behind')
})

test('write batching: end() sends what a hold keeps at once, and a destroyed socket starts no hold', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setImmediate'] })
  const { socket, batches } = recordingSocket()
  const batching = batchSocketWrites(socket)
  batching.linger(100)
  socket.write('x')
  socket.write('y')
  socket.end()
  assert.deepEqual(batches, [['x', 'y']], 'a close is never delayed by a hold')
  t.mock.timers.tick(100)
  assert.equal(batches.length, 1, 'the hold ending later writes nothing more')

  const other = recordingSocket()
  const otherBatching = batchSocketWrites(other.socket)
  other.socket.destroy()
  otherBatching.linger(100)
  assert.equal(other.socket.writableCorked, 0, 'not corked')
})

test('write batching: a hold ends early, in one write, once it keeps more than LINGER_MAX_BYTES', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setImmediate'] })
  const { socket, batches } = recordingSocket()
  const batching = batchSocketWrites(socket)
  const chunk = 'x'.repeat(1024)
  const fit = LINGER_MAX_BYTES / chunk.length
  batching.linger(100)
  for (let i = 0; i < fit; i++) {
    socket.write(chunk)
    t.mock.timers.tick(0)
  }
  assert.equal(batches.length, 0, 'exactly the bound: still held')
  socket.write('y')
  assert.equal(batches.length, 1, "past the bound: written at once, not at the hold's end")
  assert.equal(batches[0]?.length, fit + 1, 'every held chunk in that one write')
  socket.write('z')
  t.mock.timers.tick(0)
  assert.deepEqual(batches.at(-1), ['z'], 'the hold is over: the next write waits for its turn only')
  t.mock.timers.tick(100)
  assert.equal(batches.length, 2, "the ended hold's timer writes nothing more")
})

test('coalesceMs: an integer of 1-100 ms, else a clear error', () => {
  checkSendOptions({ coalesceMs: 1 })
  checkSendOptions({ coalesceMs: 100 })
  for (const bad of [0, 101, 1.5, Number.NaN, -1]) {
    assert.throws(
      () => checkSendOptions({ coalesceMs: bad }),
      /coalesceMs: must be an integer of ms between 1 and 100/,
      String(bad),
    )
  }
})
