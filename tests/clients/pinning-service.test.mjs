// @ipfs-shipyard/pinning-service-client (the generated client of ipfs/pinning-services-api-spec, the
// one js-ipfs and Helia tooling use), unchanged, against the Pinning Service API of `ferrite daemon`'s
// cluster peer.
//
// run.sh starts a single-peer cluster daemon and exports:
//   PINSVC_URL     its Pinning Service API (from the `Pinning Service API listening on` line)
//   PINSVC_TOKEN   the bearer token `ferrite cluster init` printed
//   CLUSTER_RPC_URL its Kubo RPC API (to add content and to check the node's own pins)
// The tests run in order; later ones use the pins earlier ones made.

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { before, describe, test } from 'node:test'
import { Configuration, RemotePinningServiceClient, Status } from '@ipfs-shipyard/pinning-service-client'
import { create } from 'kubo-rpc-client'

function required (name) {
  const v = process.env[name]
  if (v == null || v === '') {
    throw new Error(`${name} is not set: run these tests through tests/clients/run.sh (it starts the cluster)`)
  }
  return v.replace(/\/+$/, '')
}

const PINSVC_URL = required('PINSVC_URL')
const TOKEN = required('PINSVC_TOKEN')
const RPC_URL = required('CLUSTER_RPC_URL')

// The generated client rejects with the fetch `Response` itself on HTTP errors.
const httpStatus = (e) => e?.status ?? e?.response?.status

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** @type {RemotePinningServiceClient} */
let client
let ipfs
const cids = []

/** Polls GET /pins/{requestid} until the status is `pinned` (or fails after 20 s). */
async function waitPinned (requestid) {
  const deadline = Date.now() + 20_000
  for (;;) {
    const st = await client.pinsRequestidGet({ requestid })
    if (st.status === Status.Pinned) return st
    assert.notEqual(st.status, Status.Failed, `pin ${requestid} failed: ${JSON.stringify(st.info)}`)
    if (Date.now() > deadline) assert.fail(`pin ${requestid} is still ${st.status} after 20 s`)
    await sleep(100)
  }
}

describe('@ipfs-shipyard/pinning-service-client against ferrite', () => {
  before(async () => {
    client = new RemotePinningServiceClient(new Configuration({ endpointUrl: PINSVC_URL, accessToken: TOKEN }))
    ipfs = create({ url: `${RPC_URL}/api/v0` })
    for (let i = 0; i < 3; i++) {
      const { cid } = await ipfs.add(randomBytes(2048 + i), { pin: false })
      cids.push(cid.toString())
    }
  })

  test('a wrong token is refused with 401', async () => {
    const bad = new RemotePinningServiceClient(new Configuration({ endpointUrl: PINSVC_URL, accessToken: 'nope' }))
    await assert.rejects(bad.pinsGet({}), (e) => httpStatus(e) === 401)
  })

  test('pinsPost queues a pin; it becomes pinned, with delegates and the given name and meta', async () => {
    const st = await client.pinsPost({ pin: { cid: cids[0], name: 'first', meta: { app: 'clients' } } })
    assert.equal(st.pin.cid, cids[0])
    assert.equal(st.pin.name, 'first')
    assert.ok(st.requestid, 'a request id')
    assert.ok([Status.Queued, Status.Pinning, Status.Pinned].includes(st.status), st.status)
    assert.ok(st.created instanceof Date && !Number.isNaN(st.created.getTime()), 'created is a date')
    assert.ok(Array.isArray(st.delegates) && st.delegates.length > 0, 'delegates listed')
    assert.ok(st.delegates.every((d) => d.includes('/p2p/')), `delegates are p2p multiaddrs: ${st.delegates}`)
    const done = await waitPinned(st.requestid)
    assert.deepEqual(done.pin.meta, { app: 'clients' })
    const local = []
    for await (const p of ipfs.pin.ls({ paths: [cids[0]] })) local.push(p.cid.toString())
    assert.deepEqual(local, [cids[0]], 'the node itself holds the pin')
  })

  test('pinsGet lists pins with filters: cid, name + match, status, limit', async () => {
    const second = await client.pinsPost({ pin: { cid: cids[1], name: 'Second One' } })
    await waitPinned(second.requestid)
    // The cluster is shared with ipfs-cluster.test.mjs: look at our CIDs only.
    const all = await client.pinsGet({ cid: cids })
    assert.equal(all.count, 2)
    assert.deepEqual(new Set(all.results.map((r) => r.pin.cid)), new Set([cids[0], cids[1]]))
    const byCid = await client.pinsGet({ cid: [cids[1]] })
    assert.deepEqual(byCid.results.map((r) => r.pin.cid), [cids[1]])
    const exact = await client.pinsGet({ name: 'second one', match: 'exact' })
    assert.equal(exact.count, 0, 'exact match is case-sensitive')
    const iexact = await client.pinsGet({ name: 'second one', match: 'iexact' })
    assert.deepEqual(iexact.results.map((r) => r.pin.cid), [cids[1]])
    const partial = await client.pinsGet({ name: 'cond', match: 'partial' })
    assert.deepEqual(partial.results.map((r) => r.pin.cid), [cids[1]])
    const failed = await client.pinsGet({ status: [Status.Failed] })
    assert.equal(failed.count, 0)
    const one = await client.pinsGet({ cid: cids, limit: 1 })
    assert.equal(one.results.length, 1)
    assert.equal(one.count, 2, 'count is the total before the limit')
  })

  test('pinsRequestidPost replaces a pin with another CID', async () => {
    const before = (await client.pinsGet({ cid: [cids[1]] })).results[0]
    const st = await client.pinsRequestidPost({ requestid: before.requestid, pin: { cid: cids[2], name: 'replaced' } })
    assert.equal(st.pin.cid, cids[2])
    await waitPinned(st.requestid)
    const gone = await client.pinsGet({ cid: [cids[1]] })
    assert.equal(gone.count, 0, 'the old CID is no longer pinned')
  })

  test('pinsRequestidDelete removes a pin; getting it then is a 404', async () => {
    const st = (await client.pinsGet({ cid: [cids[2]] })).results[0]
    await client.pinsRequestidDelete({ requestid: st.requestid })
    await assert.rejects(client.pinsRequestidGet({ requestid: st.requestid }), (e) => httpStatus(e) === 404)
    const left = await client.pinsGet({ cid: cids })
    assert.deepEqual(left.results.map((r) => r.pin.cid), [cids[0]])
  })

  test('a malformed CID is a 400', async () => {
    await assert.rejects(client.pinsPost({ pin: { cid: 'not-a-cid' } }), (e) => httpStatus(e) === 400)
  })
})
