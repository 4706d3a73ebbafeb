// @helia/verified-fetch, unchanged, fetching and verifying content from Ferrite's trustless gateway.
//
// verified-fetch runs on a Helia node configured to use ONLY our gateway: no libp2p, no bitswap, no
// delegated routing, no public gateway; one content router that names our gateway as the provider of
// every CID. Its trustless-gateway block broker fetches every block with `GET /ipfs/<cid>?format=raw`
// (Accept: application/vnd.ipld.raw) and checks it against its CID before using it; verified-fetch then
// walks the DAG itself. The tests also read our gateway's CARs (`?format=car` and
// `Accept: application/vnd.ipld.car`), check every block's hash, and that they hold exactly the blocks
// the trustless-gateway spec asks for. (run.sh adds a loopback-only network namespace on top, so even a
// misconfiguration could not reach the outside.)
//
// Why not `recursiveGateways: [our URL]`: Helia 7 only asks "fallback" routers (which is what
// recursiveGateways become) after the ordinary ones, and with zero ordinary routers its provider search
// never finishes, so every fetch hangs. We wrap the same fallback router as an ordinary one.

import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createVerifiedFetchWithHelia } from '@helia/verified-fetch'
import { withHTTP } from '@helia/http'
import { CarReader } from '@ipld/car'
import { fallbackRouter } from '@helia/fallback-router'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { V, bigBytes, text, untar } from './lib/common.mjs'
import { GATEWAY_URL } from './lib/daemon.mjs'

const PLANETS = V.planets
const MARS = PLANETS.files['mars.txt']
const VENUS = PLANETS.files['venus.txt']
const TIMEOUT = 30_000

let helia
/** @type {import('@helia/verified-fetch').VerifiedFetch} */
let verifiedFetch

before(async () => {
  const ours = fallbackRouter({ gateways: [GATEWAY_URL] })
  const onlyOurGateway = { name: 'ferrite-gateway', findProviders: (cid, opts) => ours.findProviders(cid, opts) }
  helia = withHTTP(createHeliaLight({ routers: [onlyOurGateway] }), {
    delegatedRouters: [], // no delegated routing (the default is a public endpoint)
    recursiveGateways: [], // no public gateway (the default is two of them)
    allowInsecure: true, // our gateway is plain http ...
    allowLocal: true // ... on 127.0.0.1
  })
  await helia.start()
  verifiedFetch = await createVerifiedFetchWithHelia(helia)
})

after(async () => {
  await verifiedFetch?.stop()
  await helia?.stop()
})

/**
 * Runs `fn(signal)`, aborting it after TIMEOUT ms. The timer is deliberately not unref'd (unlike
 * AbortSignal.timeout): when Helia waits on nothing but a promise that never settles, an unref'd timer
 * lets node's test runner end the file with "Promise resolution is still pending" instead of this error.
 */
async function withTimeout (what, fn) {
  const ac = new AbortController()
  const timer = setTimeout(() => ac.abort(new Error(`${what}: no answer within ${TIMEOUT} ms`)), TIMEOUT)
  try {
    return await fn(ac.signal)
  } finally {
    clearTimeout(timer)
  }
}
const vf = (url, init = {}) => withTimeout(`verifiedFetch(${url})`, (signal) => verifiedFetch(url, { signal, ...init }))
const gw = (path, init = {}) => withTimeout(`GET ${path}`, (signal) => fetch(`${GATEWAY_URL}${path}`, { signal, ...init }))

/** Parses a CAR and checks every block against its CID (sha2-256 only: all our fixtures use it). */
async function readVerifiedCar (bytes) {
  const car = await CarReader.fromBytes(bytes)
  const blocks = new Map()
  for await (const { cid, bytes: b } of car.blocks()) {
    assert.equal(cid.multihash.code, sha256.code, `${cid}: unexpected hash function`)
    const digest = await sha256.digest(b)
    assert.deepEqual(digest.bytes, cid.multihash.bytes, `${cid}: block bytes do not match the CID`)
    blocks.set(cid.toString(), b)
  }
  return { roots: (await car.getRoots()).map(String), blocks }
}

describe('verified-fetch through our gateway', () => {
  test('a one-block file', async () => {
    const r = await vf(`ipfs://${V.hello.cid}`)
    assert.equal(r.status, 200)
    assert.equal(await r.text(), V.hello.text)
  })

  test('a multi-block file: every byte, verified block by block', async () => {
    const r = await vf(`ipfs://${V.big.cid}`)
    assert.equal(r.status, 200)
    assert.deepEqual(new Uint8Array(await r.arrayBuffer()), bigBytes())
  })

  test('files inside a folder, by path', async () => {
    assert.equal(await (await vf(`ipfs://${PLANETS.cid}/mars.txt`)).text(), MARS.text)
    assert.equal(await (await vf(`ipfs://${PLANETS.cid}/venus.txt`)).text(), VENUS.text)
  })

  test('a file inside a HAMT-sharded folder (6000 entries)', async () => {
    const r = await vf(`ipfs://${V.hamt.cid}/${V.hamt.sample.name}`)
    assert.equal(r.status, 200)
    assert.equal(await r.text(), V.hamt.sample.text)
  })

  test('a whole folder as a tar (Accept: application/x-tar)', async () => {
    const r = await vf(`ipfs://${PLANETS.cid}`, { headers: { accept: 'application/x-tar' } })
    assert.equal(r.status, 200)
    const files = untar(new Uint8Array(await r.arrayBuffer())).filter((e) => e.type === 'file')
    assert.deepEqual(files.map((e) => [e.name.split('/').pop(), text(e.content)]),
      [['mars.txt', MARS.text], ['venus.txt', VENUS.text]])
  })

  test('a raw block (Accept: application/vnd.ipld.raw) is the dag-pb block itself', async () => {
    const r = await vf(`ipfs://${V.hello.cid}`, { headers: { accept: 'application/vnd.ipld.raw' } })
    assert.equal(r.status, 200)
    const b = new Uint8Array(await r.arrayBuffer())
    assert.equal(Buffer.from(b).toString('hex'), V.hello.block_hex)
  })

  test('a folder as a CAR, assembled by verified-fetch from verified blocks', async () => {
    const r = await vf(`ipfs://${PLANETS.cid}`, { headers: { accept: 'application/vnd.ipld.car' } })
    assert.equal(r.status, 200)
    const car = await readVerifiedCar(new Uint8Array(await r.arrayBuffer()))
    assert.deepEqual(car.roots, [PLANETS.cid])
    assert.deepEqual([...car.blocks.keys()].sort(), [PLANETS.cid, MARS.cid, VENUS.cid].sort())
  })

  test('a path that does not exist is not a 200', async () => {
    const r = await vf(`ipfs://${PLANETS.cid}/pluto.txt`)
    assert.notEqual(r.status, 200)
    assert.ok(r.status >= 400, `status ${r.status}`)
  })
})

describe('our trustless gateway, read directly', () => {
  test('GET /ipfs/<cid>?format=raw gives the block, as application/vnd.ipld.raw', async () => {
    const r = await gw(`/ipfs/${PLANETS.cid}?format=raw`)
    assert.equal(r.status, 200)
    assert.match(r.headers.get('content-type') ?? '', /^application\/vnd\.ipld\.raw/)
    const b = new Uint8Array(await r.arrayBuffer())
    assert.equal(b.length, PLANETS.block_size)
    assert.deepEqual((await sha256.digest(b)).bytes, CID.parse(PLANETS.cid).multihash.bytes)
  })

  test('Accept: application/vnd.ipld.raw works like ?format=raw', async () => {
    const r = await gw(`/ipfs/${V.hello.cid}`, { headers: { accept: 'application/vnd.ipld.raw' } })
    assert.equal(r.status, 200)
    assert.match(r.headers.get('content-type') ?? '', /^application\/vnd\.ipld\.raw/)
    assert.equal(Buffer.from(await r.arrayBuffer()).toString('hex'), V.hello.block_hex)
  })

  test('GET /ipfs/<cid>?format=car of a folder: every block, verified, same as verified-fetch\'s', async () => {
    const r = await gw(`/ipfs/${PLANETS.cid}?format=car`)
    assert.equal(r.status, 200)
    assert.match(r.headers.get('content-type') ?? '', /^application\/vnd\.ipld\.car/)
    const ours = await readVerifiedCar(new Uint8Array(await r.arrayBuffer()))
    assert.deepEqual(ours.roots, [PLANETS.cid])
    assert.deepEqual([...ours.blocks.keys()].sort(), [PLANETS.cid, MARS.cid, VENUS.cid].sort())
    // verified-fetch builds the same CAR from blocks it fetched one by one (?format=raw) and verified.
    const theirs = await vf(`ipfs://${PLANETS.cid}`, { headers: { accept: 'application/vnd.ipld.car' } })
    const ref = await readVerifiedCar(new Uint8Array(await theirs.arrayBuffer()))
    assert.deepEqual(ours, ref)
  })

  test('Accept: application/vnd.ipld.car of a multi-block file: root and all four leaves', async () => {
    const r = await gw(`/ipfs/${V.big.cid}`, { headers: { accept: 'application/vnd.ipld.car' } })
    assert.equal(r.status, 200)
    assert.match(r.headers.get('content-type') ?? '', /^application\/vnd\.ipld\.car/)
    const ours = await readVerifiedCar(new Uint8Array(await r.arrayBuffer()))
    assert.deepEqual(ours.roots, [V.big.cid])
    assert.deepEqual([...ours.blocks.keys()].sort(), [V.big.cid, ...V.big.leaves].sort())
  })

  test('?format=car&dag-scope=block has only the requested block', async () => {
    const r = await gw(`/ipfs/${V.big.cid}?format=car&dag-scope=block`)
    assert.equal(r.status, 200)
    const ours = await readVerifiedCar(new Uint8Array(await r.arrayBuffer()))
    assert.deepEqual(ours.roots, [V.big.cid])
    assert.deepEqual([...ours.blocks.keys()], [V.big.cid])
  })

  test('a CAR of a path inside a folder has the folder block and the file', async () => {
    const r = await gw(`/ipfs/${PLANETS.cid}/mars.txt?format=car`)
    assert.equal(r.status, 200)
    const ours = await readVerifiedCar(new Uint8Array(await r.arrayBuffer()))
    assert.deepEqual(ours.roots, [PLANETS.cid])
    assert.deepEqual([...ours.blocks.keys()].sort(), [PLANETS.cid, MARS.cid].sort())
  })

  test('a CAR of a path through a HAMT has the shards on the way and the file', async () => {
    const r = await gw(`/ipfs/${V.hamt.cid}/${V.hamt.sample.name}?format=car`)
    assert.equal(r.status, 200)
    const ours = await readVerifiedCar(new Uint8Array(await r.arrayBuffer()))
    assert.deepEqual(ours.roots, [V.hamt.cid])
    const cids = [...ours.blocks.keys()]
    assert.ok(cids.includes(V.hamt.cid) && cids.includes(V.hamt.sample.cid), cids.join(' '))
    // 6000 entries in 256-way shards: the root, one or two inner shards, then the file.
    assert.ok(cids.length >= 3 && cids.length <= 4, `${cids.length} blocks: ${cids.join(' ')}`)
  })

  test('?format=raw of a block that is not there is a 404 or 5xx, not a hang or a 200', async () => {
    const missing = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode('not stored anywhere ' + Date.now())))
    const r = await gw(`/ipfs/${missing}?format=raw`)
    assert.ok(r.status === 404 || r.status >= 500, `status ${r.status}`)
  })
})
