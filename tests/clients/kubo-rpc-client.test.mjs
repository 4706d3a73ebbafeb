// kubo-rpc-client (the npm client for Kubo's RPC API), unchanged, against `ferrite daemon`.
//
// run.sh seeds the repo with the CLI before the daemon starts (hello.txt, the planets folder, the 1 MB
// file and the 6000-entry HAMT folder of vectors.json), so the read-side tests (cat, get, ls, refs, pin,
// block) do not depend on the RPC `add`; the add tests then check that the RPC gives Kubo's CIDs and
// stores what it was sent. Every expected CID comes from a real Kubo (vectors.json). The tests of one
// describe() run in order; some later ones rely on state left by earlier ones, which is said where so.

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { before, describe, test } from 'node:test'
import { create, globSource } from 'kubo-rpc-client'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { HERE, V, all, bigBytes, collect, hamtFiles, text, untar, utf8 } from './lib/common.mjs'
import { API_URL, PEER_ID, VERSION } from './lib/daemon.mjs'

/** @type {import('kubo-rpc-client').KuboRPCClient} */
let ipfs
const HELLO = V.hello
const PLANETS = V.planets
const MARS = PLANETS.files['mars.txt']
const VENUS = PLANETS.files['venus.txt']

before(() => {
  ipfs = create({ url: `${API_URL}/api/v0` })
})

describe('version and id', () => {
  test('version() reports the binary\'s version', async () => {
    const v = await ipfs.version()
    assert.equal(v.version, VERSION)
    assert.equal(typeof v.repo, 'string')
  })

  test('id() gives the node\'s peer id (parsed by the client), as in the config', async () => {
    const id = await ipfs.id()
    assert.equal(id.id.toString(), PEER_ID)
    assert.equal(await ipfs.config.get('Identity.PeerID'), PEER_ID)
    assert.ok(Array.isArray(id.addresses))
    assert.equal(typeof id.agentVersion, 'string')
  })
})

describe('add', () => {
  test('add(bytes) of "hello world\\n" gives Kubo\'s CID and size', async () => {
    const r = await ipfs.add(utf8(HELLO.text))
    assert.equal(r.cid.toString(), HELLO.cid)
    assert.equal(r.path, HELLO.cid) // no name sent: Kubo names the entry by its CID
    assert.equal(r.size, HELLO.block_hex.length / 2) // cumulative size of the DAG (one block)
  })

  test('add then cat of fresh random bytes reads back the same bytes', async () => {
    const data = randomBytes(300_000) // two chunks, so nothing already in the repo
    const r = await ipfs.add(data, { pin: false })
    assert.equal(r.cid.version, 0)
    assert.deepEqual(await collect(ipfs.cat(r.cid)), new Uint8Array(data))
  })

  test('add with onlyHash gives the CID but stores nothing', async () => {
    const data = randomBytes(5000)
    const hashed = await ipfs.add(data, { onlyHash: true })
    await assert.rejects(ipfs.block.stat(hashed.cid, { signal: AbortSignal.timeout(10_000) }))
    const added = await ipfs.add(data, { pin: false })
    assert.equal(added.cid.toString(), hashed.cid.toString())
    // One dag-pb block: PBNode.Data (1 + 2 length bytes) holding UnixFS {Type (2), Data (1 + 2 + 5000), filesize (3)}
    assert.equal((await ipfs.block.stat(added.cid)).size, 3 + 2 + 3 + 5000 + 3)
  })

  test('add with cidVersion 1 gives raw leaves (Kubo default for CIDv1)', async () => {
    const r = await ipfs.add(utf8(HELLO.text), { cidVersion: 1 })
    assert.equal(r.cid.toString(), HELLO.raw_cid)
    assert.equal(text(await collect(ipfs.cat(r.cid))), HELLO.text)
  })

  test('add with progress reports byte counts up to the file size', async () => {
    const events = []
    const r = await ipfs.add(bigBytes(), { progress: (bytes, path) => events.push({ bytes, path }) })
    assert.equal(r.cid.toString(), V.big.cid)
    assert.equal(r.size, V.big.cumulative_size) // the DAG's cumulative size: data plus dag-pb framing
    assert.ok(events.length >= 1, 'the progress callback was never called')
    const counts = events.map((e) => e.bytes)
    assert.deepEqual(counts, [...counts].sort((a, b) => a - b), 'progress is not monotonic')
    assert.equal(counts.at(-1), V.big.length)
  })

  test('addAll of a folder given as {path, content} entries gives the planets CIDs', async () => {
    const out = await all(ipfs.addAll([
      { path: 'planets/mars.txt', content: utf8(MARS.text) },
      { path: 'planets/venus.txt', content: utf8(VENUS.text) }
    ]))
    const byPath = Object.fromEntries(out.map((e) => [e.path, e.cid.toString()]))
    assert.deepEqual(byPath, {
      'planets/mars.txt': MARS.cid,
      'planets/venus.txt': VENUS.cid,
      planets: PLANETS.cid
    })
    assert.equal(out.at(-1).path, 'planets', 'the folder comes last')
  })

  test('addAll of nested folders and an empty one (explicit directory entry)', async () => {
    const out = await all(ipfs.addAll([
      { path: 'solar/planets/mars.txt', content: utf8(MARS.text) },
      { path: 'solar/planets/venus.txt', content: utf8(VENUS.text) },
      { path: 'solar/empty' } // no content: sent as an application/x-directory part
    ]))
    const byPath = Object.fromEntries(out.map((e) => [e.path, e.cid.toString()]))
    assert.equal(byPath['solar/planets'], PLANETS.cid)
    assert.equal(byPath['solar/empty'], V.empty_dir_cid)
    assert.equal(byPath.solar, V.solar.cid)
  })

  test('addAll of a folder from the file system (globSource) gives the planets CID', async () => {
    const out = await all(ipfs.addAll(globSource(join(HERE, 'fixtures'), 'planets/**/*')))
    const root = out.find((e) => e.path === 'planets')
    assert.ok(root, `no entry for the folder in ${JSON.stringify(out.map((e) => e.path))}`)
    assert.equal(root.cid.toString(), PLANETS.cid)
  })

  test('addAll with wrapWithDirectory wraps a single file', async () => {
    const out = await all(ipfs.addAll([{ path: 'mars.txt', content: utf8(MARS.text) }], { wrapWithDirectory: true }))
    assert.deepEqual(out.map((e) => [e.path, e.cid.toString()]), [['mars.txt', MARS.cid], ['', V.mars_wrapped_cid]])
    const listed = await all(ipfs.ls(V.mars_wrapped_cid))
    assert.deepEqual(listed.map((l) => [l.name, l.cid.toString()]), [['mars.txt', MARS.cid]])
  })
})

describe('cat', () => {
  test('cat of a file CID', async () => {
    assert.equal(text(await collect(ipfs.cat(HELLO.cid))), HELLO.text)
  })

  test('cat of a path inside a folder, with and without /ipfs/', async () => {
    assert.equal(text(await collect(ipfs.cat(`${PLANETS.cid}/mars.txt`))), MARS.text)
    assert.equal(text(await collect(ipfs.cat(`/ipfs/${PLANETS.cid}/venus.txt`))), VENUS.text)
  })

  test('cat of a multi-block file returns every byte', async () => {
    assert.deepEqual(await collect(ipfs.cat(V.big.cid)), bigBytes())
  })

  test('cat with offset and length', async () => {
    const got = await collect(ipfs.cat(V.big.cid, { offset: 262_000, length: 1_000 }))
    assert.deepEqual(got, bigBytes().subarray(262_000, 263_000))
  })

  test('cat of a missing path rejects with the daemon\'s message', async () => {
    await assert.rejects(collect(ipfs.cat(`${PLANETS.cid}/pluto.txt`)),
      (e) => { assert.match(e.message, new RegExp(`no link named "pluto.txt" under ${PLANETS.cid}`)); return true })
  })

  test('cat of a folder rejects: it is not a file', async () => {
    await assert.rejects(collect(ipfs.cat(PLANETS.cid)), /this dag node is a directory/)
  })
})

describe('HAMT-sharded folder (6000 entries)', () => {
  const { sample } = V.hamt

  test('cat of a file inside it', async () => {
    assert.equal(text(await collect(ipfs.cat(`${V.hamt.cid}/${sample.name}`))), sample.text)
  })

  test('ls lists every entry once, with the right CIDs', async () => {
    const links = await all(ipfs.ls(V.hamt.cid))
    assert.equal(links.length, V.hamt.count)
    assert.deepEqual(links.map((l) => l.name).sort(), hamtFiles().map(([name]) => name))
    const s = links.find((l) => l.name === sample.name)
    assert.equal(s.cid.toString(), sample.cid)
    assert.equal(s.type, 'file')
  })
})

describe('get', () => {
  test('get of a folder yields a tar of the folder', async () => {
    const entries = untar(await collect(ipfs.get(PLANETS.cid)))
    assert.deepEqual(entries.map((e) => [e.name, e.type]), [
      [PLANETS.cid, 'dir'],
      [`${PLANETS.cid}/mars.txt`, 'file'],
      [`${PLANETS.cid}/venus.txt`, 'file']
    ])
    assert.equal(text(entries[1].content), MARS.text)
    assert.equal(text(entries[2].content), VENUS.text)
  })

  test('get of a multi-block file yields a tar with every byte', async () => {
    const entries = untar(await collect(ipfs.get(V.big.cid)))
    assert.equal(entries.length, 1)
    assert.equal(entries[0].name, V.big.cid)
    assert.deepEqual(entries[0].content, bigBytes())
  })
})

describe('ls', () => {
  test('ls of a folder lists its links with names, CIDs, sizes and types', async () => {
    const links = await all(ipfs.ls(PLANETS.cid))
    assert.deepEqual(links.map((l) => ({ name: l.name, cid: l.cid.toString(), size: l.size, type: l.type, path: l.path })), [
      { name: 'mars.txt', cid: MARS.cid, size: MARS.text.length, type: 'file', path: `${PLANETS.cid}/mars.txt` },
      { name: 'venus.txt', cid: VENUS.cid, size: VENUS.text.length, type: 'file', path: `${PLANETS.cid}/venus.txt` }
    ])
  })

  test('ls of a multi-block file lists its chunks (unnamed links)', async () => {
    const links = await all(ipfs.ls(V.big.cid))
    assert.deepEqual(links.map((l) => l.cid.toString()), V.big.leaves)
  })
})

describe('refs', () => {
  test('refs of a folder gives its direct children', async () => {
    const refs = await all(ipfs.refs(PLANETS.cid))
    assert.deepEqual(refs.map((r) => r.err || r.ref), [MARS.cid, VENUS.cid])
  })

  test('refs --recursive of the big file gives its four leaves', async () => {
    const refs = await all(ipfs.refs(V.big.cid, { recursive: true }))
    assert.deepEqual(refs.map((r) => r.err || r.ref), V.big.leaves)
  })
})

describe('pin', () => {
  test('pin ls --type recursive lists the seeded folder', async () => {
    const pins = await all(ipfs.pin.ls({ type: 'recursive' }))
    const found = pins.find((p) => p.cid.toString() === PLANETS.cid)
    assert.ok(found, `planets not in ${JSON.stringify(pins.map((p) => p.cid.toString()))}`)
    assert.equal(found.type, 'recursive')
  })

  test('pin add / pin ls / pin rm of a file inside a pinned folder', async () => {
    const mars = CID.parse(MARS.cid)
    // Before: mars.txt is only pinned through the folder.
    let [p] = await all(ipfs.pin.ls({ paths: mars }))
    assert.equal(p.cid.toString(), MARS.cid)
    assert.match(p.type, /^indirect/)

    assert.equal((await ipfs.pin.add(mars)).toString(), MARS.cid);
    [p] = await all(ipfs.pin.ls({ paths: mars }))
    assert.equal(p.type, 'recursive')

    assert.equal((await ipfs.pin.rm(mars)).toString(), MARS.cid);
    [p] = await all(ipfs.pin.ls({ paths: mars }))
    assert.match(p.type, /^indirect/)
  })

  test('pin add --recursive=false makes a direct pin; pin rm removes it', async () => {
    const cid = await ipfs.block.put(randomBytes(100)) // block put does not pin
    await assert.rejects(all(ipfs.pin.ls({ paths: cid })), /is not pinned/)
    assert.equal((await ipfs.pin.add(cid, { recursive: false })).toString(), cid.toString())
    const [p] = await all(ipfs.pin.ls({ paths: cid }))
    assert.equal(p.type, 'direct')
    assert.ok((await all(ipfs.pin.ls({ type: 'direct' }))).some((x) => x.cid.equals(cid)))
    assert.equal((await ipfs.pin.rm(cid)).toString(), cid.toString())
    await assert.rejects(all(ipfs.pin.ls({ paths: cid })), /is not pinned/)
  })

  test('pin rm of something not pinned rejects with the daemon\'s message', async () => {
    // mars.txt: only pinned through the planets folder again after the test above.
    await assert.rejects(ipfs.pin.rm(CID.parse(MARS.cid)), /not pinned or pinned indirectly/)
  })

  test('pin ls of an unpinned block rejects', async () => {
    const cid = await ipfs.block.put(randomBytes(64)) // stored but never pinned
    await assert.rejects(all(ipfs.pin.ls({ paths: cid })), /is not pinned/)
  })
})

describe('block', () => {
  test('block get of a dag-pb block returns its exact bytes', async () => {
    const b = await ipfs.block.get(CID.parse(HELLO.cid))
    assert.equal(Buffer.from(b).toString('hex'), HELLO.block_hex)
  })

  test('block stat gives the CID and size', async () => {
    const s = await ipfs.block.stat(CID.parse(PLANETS.cid))
    assert.equal(s.cid.toString(), PLANETS.cid)
    assert.equal(s.size, PLANETS.block_size)
  })

  test('block put of raw bytes gives the raw CIDv1, and block get reads them back', async () => {
    const data = randomBytes(1000)
    const cid = await ipfs.block.put(data)
    const want = CID.createV1(raw.code, await sha256.digest(data))
    assert.equal(cid.toString(), want.toString())
    assert.deepEqual(await ipfs.block.get(cid), new Uint8Array(data))
    assert.equal((await ipfs.block.stat(cid)).size, 1000)
  })

  test('block get of a block that is not there rejects (no network to wait for)', async () => {
    const missing = CID.createV1(raw.code, await sha256.digest(randomBytes(32)))
    await assert.rejects(ipfs.block.get(missing, { signal: AbortSignal.timeout(20_000) }),
      (e) => { assert.doesNotMatch(e.name, /Abort|Timeout/, 'the daemon did not answer within 20 s'); return true })
  })

  test('block put of "hello world\\n" gives Kubo\'s raw CID', async () => {
    assert.equal((await ipfs.block.put(utf8(HELLO.text))).toString(), HELLO.raw_cid)
  })
})

describe('dag', () => {
  test('dag put of {hello: "world"} gives Kubo\'s dag-cbor CID', async () => {
    const cid = await ipfs.dag.put({ hello: 'world' })
    assert.equal(cid.toString(), V.dag.cid)
  })

  test('dag put with inputCodec dag-json (bytes as JSON) gives the same CID', async () => {
    const cid = await ipfs.dag.put(utf8(V.dag.json), { inputCodec: 'dag-json', storeCodec: 'dag-cbor' })
    assert.equal(cid.toString(), V.dag.cid)
  })

  test('dag get reads back the object, and a path into it', async () => {
    const cid = CID.parse(V.dag.cid) // stored by the dag put tests above
    assert.deepEqual((await ipfs.dag.get(cid)).value, { hello: 'world' })
    assert.equal((await ipfs.dag.get(cid, { path: 'hello' })).value, 'world')
  })

  test('dag get of a dag-pb folder decodes its links', async () => {
    const { value } = await ipfs.dag.get(CID.parse(PLANETS.cid))
    assert.deepEqual(value.Links.map((l) => [l.Name, l.Hash.toString(), l.Tsize]),
      [['mars.txt', MARS.cid, MARS.tsize], ['venus.txt', VENUS.cid, VENUS.tsize]])
  })
})

describe('config', () => {
  test('config get of a string value', async () => {
    assert.equal(await ipfs.config.get('Addresses.API'), '/ip4/127.0.0.1/tcp/0')
  })

  test('config set then get: a string, a boolean, a JSON number', async () => {
    await ipfs.config.set('Datastore.StorageMax', '20GB')
    assert.equal(await ipfs.config.get('Datastore.StorageMax'), '20GB')
    await ipfs.config.set('Gateway.NoFetch', true)
    assert.equal(await ipfs.config.get('Gateway.NoFetch'), true)
    await ipfs.config.set('Datastore.StorageGCWatermark', 80)
    assert.equal(await ipfs.config.get('Datastore.StorageGCWatermark'), 80)
  })

  test('the private key cannot be read through the API', async () => {
    await assert.rejects(ipfs.config.get('Identity.PrivKey'), /cannot show or change private key through API/)
    await assert.rejects(ipfs.config.get('Identity'), /cannot show or change private key through API/)
  })

  test('config get of a missing key rejects', async () => {
    await assert.rejects(ipfs.config.get('No.Such.Key'), /key has no attribute|not found|no such/i)
  })
})
