// Shared helpers of the JS client tests: the Kubo test vectors, the fixtures, and a tiny tar reader.
// (Where the daemon listens is in ./daemon.mjs.)

import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const HERE = dirname(dirname(fileURLToPath(import.meta.url)))

/** Kubo's answers for the fixtures (tests/clients/vectors.json). */
export const V = JSON.parse(readFileSync(join(HERE, 'vectors.json'), 'utf8'))

/** The 1,000,000-byte multi-block file of V.big: byte i = (7*i + 3) % 251. */
export function bigBytes () {
  const b = new Uint8Array(V.big.length)
  for (let i = 0; i < b.length; i++) b[i] = (7 * i + 3) % 251
  return b
}

/** The files of the HAMT-sharded folder of V.hamt: [name, text] pairs. */
export function hamtFiles () {
  return Array.from({ length: V.hamt.count }, (_, i) => [`file-${String(i).padStart(5, '0')}.txt`, `file ${i}\n`])
}

export const utf8 = (s) => new TextEncoder().encode(s)
export const text = (b) => new TextDecoder().decode(b)

/** Concatenates the chunks of an (async) iterable of Uint8Array. */
export async function collect (source) {
  const parts = []
  let n = 0
  for await (const c of source) { parts.push(c); n += c.length }
  const out = new Uint8Array(n)
  let off = 0
  for (const p of parts) { out.set(p, off); off += p.length }
  return out
}

/** Drains an async iterable into an array. */
export async function all (source) {
  const out = []
  for await (const x of source) out.push(x)
  return out
}

/**
 * Reads a (ustar / GNU / PAX) tar archive held in memory.
 * Returns [{ name, type: 'file' | 'dir', content: Uint8Array }], in archive order; names have no trailing '/'.
 * Throws on a malformed header (bad checksum) so a broken archive cannot pass as an empty one.
 */
export function untar (buf) {
  const entries = []
  let paxPath = null
  let longName = null
  const str = (a, b) => text(buf.subarray(a, b)).replace(/\0.*$/s, '')
  for (let off = 0; off + 512 <= buf.length;) {
    const h = buf.subarray(off, off + 512)
    if (h.every((x) => x === 0)) break // end-of-archive marker
    let sum = 0
    for (let i = 0; i < 512; i++) sum += (i >= 148 && i < 156) ? 32 : h[i]
    if (sum !== parseInt(str(off + 148, off + 156).trim(), 8)) throw new Error(`tar: bad header checksum at offset ${off}`)
    const size = parseInt(str(off + 124, off + 136).trim() || '0', 8)
    const flag = String.fromCharCode(h[156] || 48)
    const name = str(off, off + 100)
    const prefix = str(off + 345, off + 500)
    const body = buf.subarray(off + 512, off + 512 + size)
    if (body.length !== size) throw new Error(`tar: entry ${name} is truncated`)
    off += 512 + Math.ceil(size / 512) * 512
    if (flag === 'x') { // PAX extended header: "len key=value\n" records
      const m = /\d+ path=([^\n]*)\n/.exec(text(body))
      paxPath = m ? m[1] : null
      continue
    }
    if (flag === 'L') { longName = text(body).replace(/\0.*$/s, ''); continue } // GNU long name
    if (flag === 'g') continue // PAX global header
    const full = paxPath ?? longName ?? (prefix ? `${prefix}/${name}` : name)
    paxPath = null
    longName = null
    entries.push({ name: full.replace(/\/+$/, ''), type: flag === '5' ? 'dir' : 'file', content: body.slice() })
  }
  return entries
}
