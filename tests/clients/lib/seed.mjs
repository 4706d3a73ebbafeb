// Seeds a fresh Ferrite repo with the fixtures of vectors.json through the `ferrite add` CLI, before the
// daemon starts, so the read-side client tests do not depend on the RPC `add`. Fails (exit 1) when the CLI
// does not give Kubo's CIDs.
//
//   node tests/clients/lib/seed.mjs FERRITE_BIN WORKDIR      (FERRITE_PATH must point at the repo)

import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { HERE, V, bigBytes, hamtFiles } from './common.mjs'

const [bin, work] = process.argv.slice(2)
mkdirSync(work, { recursive: true })
writeFileSync(join(work, 'hello.txt'), V.hello.text)
writeFileSync(join(work, 'big.bin'), bigBytes())
mkdirSync(join(work, 'hamt'))
for (const [name, text] of hamtFiles()) writeFileSync(join(work, 'hamt', name), text)

const seeds = [
  [join(work, 'hello.txt'), V.hello.cid],
  [join(HERE, V.planets.dir), V.planets.cid],
  [join(work, 'big.bin'), V.big.cid],
  [join(work, 'hamt'), V.hamt.cid]
]
let bad = 0
for (const [path, want] of seeds) {
  const got = execFileSync(bin, ['add', '-r', '-Q', path], { encoding: 'utf8' }).trim()
  if (got !== want) { console.error(`seed: ferrite add ${path} gave ${got}, Kubo gives ${want}`); bad++ }
}
if (bad > 0) process.exit(1)
console.error(`seed: added ${seeds.length} fixtures with Kubo's CIDs`)
