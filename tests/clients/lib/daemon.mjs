// Where the daemon under test listens. run.sh starts `ferrite daemon` and exports:
//   FERRITE_API_URL      e.g. http://127.0.0.1:41957  (from the `RPC API server listening on` line)
//   FERRITE_GATEWAY_URL  e.g. http://127.0.0.1:41055  (from the `Gateway server listening on` line)
//   FERRITE_PEER_ID      the peer id `ferrite init` printed
//   FERRITE_VERSION      the version `ferrite --version` printed
// A missing variable is an error, not a skip: these tests exist to run against a daemon.

function required (name) {
  const v = process.env[name]
  if (v == null || v === '') {
    throw new Error(`${name} is not set: run these tests through tests/clients/run.sh (it starts the daemon)`)
  }
  return v.replace(/\/+$/, '')
}

export const API_URL = required('FERRITE_API_URL')
export const GATEWAY_URL = required('FERRITE_GATEWAY_URL')
export const PEER_ID = required('FERRITE_PEER_ID')
export const VERSION = required('FERRITE_VERSION')
