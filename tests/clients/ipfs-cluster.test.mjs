// @nftstorage/ipfs-cluster (the npm client for IPFS Cluster's REST API), unchanged, against the cluster
// REST API of `ferrite daemon`.
//
// run.sh starts a second daemon on its own repo, a single-peer cluster (`ferrite cluster init
// --new-secret --peer-name clients-cluster`), and exports:
//   CLUSTER_API_URL   its cluster REST API (from the `Cluster REST API listening on` line)
//   CLUSTER_RPC_URL   its Kubo RPC API (to check the pins on the node itself)
//   CLUSTER_PEER_ID   the `Cluster peer ID` it printed (the node's own peer id)
//   FERRITE_VERSION   the version `ferrite --version` printed
// The tests run in order; later ones use the CIDs earlier ones added or pinned.

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { before, describe, test } from 'node:test'
import { Cluster } from '@nftstorage/ipfs-cluster'
import { create } from 'kubo-rpc-client'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'

function required (name) {
  const v = process.env[name]
  if (v == null || v === '') {
    throw new Error(`${name} is not set: run these tests through tests/clients/run.sh (it starts the cluster)`)
  }
  return v.replace(/\/+$/, '')
}

const CLUSTER_API_URL = required('CLUSTER_API_URL')
const CLUSTER_RPC_URL = required('CLUSTER_RPC_URL')
const PEER_ID = required('CLUSTER_PEER_ID')
const VERSION = required('FERRITE_VERSION')
const PEER_NAME = 'clients-cluster'

/** @type {Cluster} */
let cluster
/** @type {import('kubo-rpc-client').KuboRPCClient} */
let ipfs

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `cluster.status(cid)` until this peer reports `want` (15 s). */
async function waitStatus (cid, want) {
  const deadline = Date.now() + 15_000
  let last
  for (;;) {
    last = await cluster.status(cid)
    if (last.peerMap?.[PEER_ID]?.status === want) return last
    if (Date.now() > deadline) {
      assert.fail(`${cid} not ${want} after 15 s: ${JSON.stringify(last)}`)
    }
    await sleep(100)
  }
}

/** Whether the node holds a recursive pin of `cid` (kubo-rpc-client against the same daemon). */
async function pinnedOnNode (cid) {
  try {
    for await (const p of ipfs.pin.ls({ paths: [CID.parse(cid)], type: 'recursive' })) {
      if (p.cid.toString() === cid) return true
    }
  } catch (err) {
    if (/not pinned/.test(String(err.message))) return false
    throw err
  }
  return false
}

before(() => {
  cluster = new Cluster(CLUSTER_API_URL)
  ipfs = create({ url: `${CLUSTER_RPC_URL}/api/v0` })
})

describe('@nftstorage/ipfs-cluster', () => {
  /** What `add` stored (a Blob, CIDv1 raw leaves: the client's defaults). */
  const added = { bytes: randomBytes(100_000), cid: '' }
  /** What `pin` pinned: bytes added to the node unpinned, then pinned through the cluster. */
  const pinned = { cid: '' }

  test('version() reports the binary\'s version', async () => {
    const v = await cluster.version()
    assert.equal(typeof v, 'string')
    assert.ok(v.includes(VERSION), `${v} does not mention ${VERSION}`)
  })

  test('info() gives the peer id, name, members and IPFS identity', async () => {
    const info = await cluster.info()
    assert.equal(info.id, PEER_ID)
    assert.equal(info.peerName, PEER_NAME)
    assert.deepEqual(info.clusterPeers, [PEER_ID])
    assert.ok(Array.isArray(info.addresses) && info.addresses.length > 0, JSON.stringify(info))
    assert.ok(info.addresses.every((a) => a.endsWith(`/p2p/${PEER_ID}`)), JSON.stringify(info.addresses))
    assert.equal(info.ipfs.id, PEER_ID)
  })

  test('add(Blob) returns the CIDv1 raw-leaf CID and pins it', async () => {
    const expected = CID.create(1, raw.code, await sha256.digest(added.bytes)).toString()
    const r = await cluster.add(new Blob([added.bytes]), { name: 'blob.bin' })
    assert.equal(r.cid, expected)
    added.cid = r.cid
    await waitStatus(added.cid, 'pinned')
    assert.ok(await pinnedOnNode(added.cid))
    const back = []
    for await (const chunk of ipfs.cat(CID.parse(added.cid))) back.push(chunk)
    assert.deepEqual(Buffer.concat(back), added.bytes)
  })

  test('pin() of content the node holds unpinned', async () => {
    const r = await ipfs.add(randomBytes(50_000), { pin: false, cidVersion: 1 })
    pinned.cid = r.cid.toString()
    assert.equal(await pinnedOnNode(pinned.cid), false)
    const p = await cluster.pin(pinned.cid, { name: 'from-js', metadata: { kind: 'test' } })
    assert.equal(p.cid, pinned.cid)
    assert.equal(p.name, 'from-js')
    assert.deepEqual(p.metadata, { kind: 'test' })
    assert.equal(p.replicationFactorMin, -1)
    assert.equal(p.replicationFactorMax, -1)
  })

  test('status() until pinned, then the node holds the pin', async () => {
    const s = await waitStatus(pinned.cid, 'pinned')
    assert.equal(s.cid, pinned.cid)
    assert.equal(s.name, 'from-js')
    const mine = s.peerMap[PEER_ID]
    assert.equal(mine.peerName, PEER_NAME)
    assert.equal(mine.ipfsPeerId, PEER_ID)
    assert.ok(!Number.isNaN(mine.timestamp.getTime()), JSON.stringify(mine))
    assert.ok(await pinnedOnNode(pinned.cid))
  })

  test('allocation() gives the pin as stored', async () => {
    const a = await cluster.allocation(pinned.cid)
    assert.equal(a.cid, pinned.cid)
    assert.equal(a.name, 'from-js')
    assert.deepEqual(a.metadata, { kind: 'test' })
    assert.equal(a.replicationFactorMin, -1)
    assert.ok(Array.isArray(a.allocations), JSON.stringify(a))
  })

  test('statusAll() lists both CIDs, pinned here', async () => {
    const all = await cluster.statusAll()
    for (const cid of [added.cid, pinned.cid]) {
      const s = all.find((x) => x.cid === cid)
      assert.ok(s, `${cid} missing from ${JSON.stringify(all)}`)
      assert.equal(s.peerMap[PEER_ID].status, 'pinned')
    }
    const filtered = await cluster.statusAll({ filter: 'pinned' })
    assert.ok(filtered.some((x) => x.cid === pinned.cid))
    const none = await cluster.statusAll({ filter: 'pin_error' })
    assert.ok(!none.some((x) => x.cid === pinned.cid || x.cid === added.cid))
  })

  test('peerList() has this one peer', async () => {
    const peers = await cluster.peerList()
    assert.equal(peers.length, 1, JSON.stringify(peers))
    assert.equal(peers[0].id, PEER_ID)
    assert.equal(peers[0].peerName, PEER_NAME)
    assert.ok(!peers[0].error, JSON.stringify(peers[0]))
  })

  test('unpin() removes it from the cluster and from the node', async () => {
    const r = await cluster.unpin(pinned.cid)
    assert.equal(r.cid, pinned.cid)
    await waitStatus(pinned.cid, 'unpinned')
    assert.equal(await pinnedOnNode(pinned.cid), false)
    await assert.rejects(cluster.allocation(pinned.cid), (err) => {
      assert.equal(err.response?.status, 404, String(err))
      return true
    })
    const all = await cluster.statusAll()
    assert.ok(!all.some((x) => x.cid === pinned.cid), JSON.stringify(all))
    // The other pin is untouched.
    assert.ok(await pinnedOnNode(added.cid))
  })
})
