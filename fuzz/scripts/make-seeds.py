#!/usr/bin/env python3
"""Writes fuzz/seeds/<target>/ from the repo's fixtures and hand-made inputs.

Usage: python3 fuzz/scripts/make-seeds.py [FERRITE_BIN]
With FERRITE_BIN, the config seeds include configs made by `ferrite init`
for a few profiles; without it the committed ones are kept.
"""
import base64, hashlib, json, os, shutil, subprocess, sys, tempfile

FUZZ = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(FUZZ)
SEEDS = os.path.join(FUZZ, "seeds")
IPLD_FIX = os.path.join(ROOT, "crates/ferrite-ipld/tests/fixtures")
UNIXFS_FIX = os.path.join(ROOT, "crates/ferrite-unixfs/tests/export_fixtures")


def put(target, name, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(b, i):
    v = s = 0
    while True:
        x = b[i]
        i += 1
        v |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return v, i


def cid_len(b, i):
    """Length of the binary CID at b[i:], and its codec."""
    if b[i] == 0x12 and b[i + 1] == 0x20:
        return 34, 0x70
    j = i
    _, j = read_varint(b, j)  # version
    codec, j = read_varint(b, j)
    _, j = read_varint(b, j)  # hash code
    n, j = read_varint(b, j)
    return j + n - i, codec


def car_blocks(path):
    b = open(path, "rb").read()
    i = 0
    if b[:11] == bytes.fromhex("0aa16776657273696f6e02"):
        off = int.from_bytes(b[11 + 16:11 + 24], "little")
        size = int.from_bytes(b[11 + 24:11 + 32], "little")
        b = b[off:off + size]
    n, i = read_varint(b, 0)
    header = b[i:i + n]
    i += n
    out = []
    while i < len(b):
        n, i = read_varint(b, i)
        sec = b[i:i + n]
        i += n
        cl, codec = cid_len(sec, 0)
        out.append((sec[:cl], codec, sec[cl:]))
    return header, out


def field(num, wire, payload):
    key = varint(num << 3 | wire)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + varint(payload)


def pb_get_data(block):
    """The Data field (1) of a dag-pb node."""
    i = 0
    while i < len(block):
        k, i = read_varint(block, i)
        n, i = read_varint(block, i)
        if k == 0x0A:
            return block[i:i + n]
        i += n
    return None


def main():
    ferrite = sys.argv[1] if len(sys.argv) > 1 else None
    for t in os.listdir(SEEDS) if os.path.isdir(SEEDS) else []:
        if t == "config" and not ferrite:
            continue
        shutil.rmtree(os.path.join(SEEDS, t))

    # ---- blocks from the fixtures' CARs
    cars = {
        "TestDagStat.car": IPLD_FIX, "TestDagStatCARv2.car": IPLD_FIX,
        "partial-dag-scope-entity.car": IPLD_FIX, "wiki-hamt-shards.car": IPLD_FIX,
        "lotus_devnet_genesis.car": IPLD_FIX, "dir-with-files.car": UNIXFS_FIX,
    }
    pb, cbor = [], []
    headers = []
    for name, d in cars.items():
        header, blocks = car_blocks(os.path.join(d, name))
        headers.append(header)
        for c, codec, data in blocks:
            if codec == 0x70 and len(data) < 2048:
                pb.append(data)
            elif codec == 0x71 and len(data) < 2048:
                cbor.append(data)
    pb = sorted(set(pb), key=len)
    cbor = sorted(set(cbor), key=len)
    pick = lambda xs, n: [xs[k * len(xs) // n] for k in range(n)] if len(xs) > n else xs
    for k, data in enumerate(pick(pb, 8)):
        put("dag_pb", f"block-{k}", data)
        put("unixfs_data", f"pb-block-{k}", data)
        ufs = pb_get_data(data)
        if ufs:
            put("unixfs_data", f"data-{k}", ufs)
    put("dag_pb", "empty-dir", bytes.fromhex("0a020801"))
    for k, data in enumerate(pick(cbor, 8)):
        put("dag_cbor", f"block-{k}", data)
    for k, h in enumerate(sorted(set(headers))):
        put("dag_cbor", f"car-header-{k}", h)
    put("dag_cbor", "non-canon", open(os.path.join(IPLD_FIX, "non-canon.cbor"), "rb").read())
    put("dag_cbor", "floats-ints", bytes.fromhex(
        "a461611b7fffffffffffffff6162fb3ff8000000000000616339ffff6164f6"))
    # hamt with mtime/mode: a hand-made UnixFS Data with every field
    put("unixfs_data", "all-fields", field(1, 0, 2) + field(2, 2, b"hi") + field(3, 0, 2)
        + field(4, 0, 1) + field(4, 0, 1) + field(5, 0, 0x22) + field(6, 0, 256)
        + field(7, 0, 0o644) + field(8, 2, field(1, 0, 1700000000) + bytes([0x15]) + (5).to_bytes(4, "little")))

    # ---- dag-json
    raw_cid = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    pb_cid = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"
    put("dag_json", "link", '{"/":"%s"}' % raw_cid)
    put("dag_json", "bytes", '{"/":{"bytes":"aGVsbG8gd29ybGQ"}}')
    put("dag_json", "mixed", '{"a":[1,-2,3.5,1e300,null,true,false],"b":{"/":"%s"},"c":"\\u00e9\\ud83d\\ude00","d":{"x":{"y":[]}}}' % pb_cid)
    put("dag_json", "pb-shape", '{"Data":{"/":{"bytes":"CAE"}},"Links":[{"Hash":{"/":"%s"},"Name":"a","Tsize":4}]}' % raw_cid)
    put("dag_json", "big-ints", '[18446744073709551615,-18446744073709551616,9007199254740993]')
    put("dag_json", "nested", "[" * 40 + "]" * 40)

    # ---- CAR files
    for name in ["TestDagStat.car", "TestDagStatCARv2.car", "partial-dag-scope-entity.car"]:
        put("car", name, open(os.path.join(IPLD_FIX, name), "rb").read())
    put("car", "dir-with-files.car", open(os.path.join(UNIXFS_FIX, "dir-with-files.car"), "rb").read())

    # ---- Bitswap messages
    def cid_bytes(s):
        if s.startswith("Qm"):
            alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
            n = 0
            for ch in s:
                n = n * 58 + alphabet.index(ch)
            return n.to_bytes(34, "big")
        body = s[1:].upper()
        return base64.b32decode(body + "=" * (-len(body) % 8))
    c_raw, c_pb = cid_bytes(raw_cid), cid_bytes(pb_cid)
    entry = lambda c, extra=b"": field(1, 2, field(1, 2, c) + extra)
    wl = field(1, 2, entry(c_raw, field(2, 0, 2147483647) + field(4, 0, 1) + field(5, 0, 1))
               + entry(c_pb, field(3, 0, 1)) + field(2, 0, 1))
    empty_dir = bytes.fromhex("0a020801")
    raw_data = b"hello world\n"
    prefix_raw = varint(1) + varint(0x55) + varint(0x12) + varint(32)
    prefix_v0 = varint(0) + varint(0x70) + varint(0x12) + varint(32)
    prefix_id = varint(1) + varint(0x55) + varint(0) + varint(len(raw_data))
    payload = (field(3, 2, field(1, 2, prefix_raw) + field(2, 2, raw_data))
               + field(3, 2, field(1, 2, prefix_v0) + field(2, 2, empty_dir))
               + field(3, 2, field(1, 2, prefix_id) + field(2, 2, raw_data)))
    pres = field(4, 2, field(1, 2, c_raw)) + field(4, 2, field(1, 2, c_pb) + field(2, 0, 1))
    put("bitswap_message", "wantlist", wl)
    put("bitswap_message", "payload", payload)
    put("bitswap_message", "presences", pres + field(5, 0, 1024))
    put("bitswap_message", "v100-blocks", field(2, 2, empty_dir) + field(2, 2, raw_data))
    put("bitswap_message", "all", wl + payload + pres + field(5, 0, (1 << 64) - 5))

    # ---- DHT provider store entries and keys
    ma_tcp = bytes([0x04, 127, 0, 0, 1, 0x06]) + (4001).to_bytes(2, "big")
    ma_quic = bytes([0x04, 10, 0, 0, 1, 0x91, 0x02]) + (4001).to_bytes(2, "big") + bytes([0xCC, 0x03])
    def ent(exp, addrs):
        out = exp.to_bytes(8, "big") + len(addrs).to_bytes(2, "big")
        for a in addrs:
            out += len(a).to_bytes(2, "big") + a
        return out
    put("dht_provider_record", "entry-two-addrs", ent(1700000000000, [ma_tcp, ma_quic]))
    put("dht_provider_record", "entry-never", ent((1 << 64) - 1, []))
    put("dht_provider_record", "entry-bad-addr", ent(5, [b"\xff\xff", ma_tcp]))
    peer = bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]) + hashlib.sha256(b"peer").digest()
    mh_key = bytes([0x12, 0x20]) + hashlib.sha256(b"hello world\n").digest()
    put("dht_provider_record", "db-key", len(mh_key).to_bytes(2, "big") + mh_key + peer)
    peer_sha = bytes([0x12, 0x20]) + hashlib.sha256(b"rsa").digest()
    put("dht_provider_record", "db-key-sha-peer", (0).to_bytes(2, "big") + peer_sha)

    # ---- swarm.key
    key = hashlib.sha256(b"ferrite fuzz").digest()
    put("swarm_key", "base16", "/key/swarm/psk/1.0.0/\n/base16/\n" + key.hex())
    put("swarm_key", "base16-crlf", "/key/swarm/psk/1.0.0/\r\n/base16/\r\n" + key.hex().upper() + "\r\n")
    put("swarm_key", "base64", "/key/swarm/psk/1.0.0/\n/base64/\n" + base64.b64encode(key).decode() + "\n")
    put("swarm_key", "bin", b"/key/swarm/psk/1.0.0/\n/bin/\n" + key)

    # ---- config: `ferrite init` for a few profiles
    if ferrite:
        for prof in ["", "test", "server", "lowpower", "pebbleds"]:
            with tempfile.TemporaryDirectory() as tmp:
                repo = os.path.join(tmp, "repo")
                args = [ferrite, "--repo-dir", repo, "init"] + (["--profile", prof] if prof else [])
                r = subprocess.run(args, capture_output=True)
                if r.returncode != 0:
                    continue
                put("config", "init" + ("-" + prof if prof else ""), open(os.path.join(repo, "config"), "rb").read())
    put("config", "minimal", '{"Identity":{},"Addresses":{"API":"/ip4/127.0.0.1/tcp/5001"}}')

    # ---- multipart bodies (Content-Type line, then the body)
    b = "------------------------a1b2c3"
    ct = "multipart/form-data; boundary=" + b[2:]
    def part(name, ctype, body):
        return (f'{b}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                f'Content-Type: {ctype}\r\n\r\n{body}\r\n')
    put("multipart", "one-file", ct + "\n" + part("hello.txt", "application/octet-stream", "hello world") + b + "--\r\n")
    put("multipart", "dir-tree", ct + "\n" + part("d", "application/x-directory", "")
        + part("d%2Fa+b.txt", "application/octet-stream", "A" * 100)
        + part("d%2Flink", "application/symlink", "a b.txt")
        + part("d%2Fsub", "application/x-directory", "")
        + part("d%2Fsub%2Fe%C3%A9", "text/plain", "") + b + "--\r\n")
    put("multipart", "abspath-header", "multipart/form-data; boundary=xyz\n--xyz\r\n"
        "Abspath: /tmp/x\r\nContent-Disposition: file; filename=\"x\"\r\n\r\nxx\r\n--xyz--\r\n")
    put("multipart", "truncated", ct + "\n" + part("t", "application/octet-stream", "abc")[:-10])

    # ---- gateway requests (target line, then headers)
    for name, req in {
        "plain": f"/ipfs/{pb_cid}/",
        "file-range": f"/ipfs/{raw_cid}/a/b%20c.txt?filename=x.txt&download=true\nRange: bytes=10-\nCache-Control: only-if-cached",
        "head": f"HEAD /ipfs/{raw_cid}\nAccept: application/vnd.ipld.raw",
        "car-accept": f"/ipfs/{pb_cid}/x\nAccept: application/vnd.ipld.car; version=1; order=unk; dups=y, */*;q=0.1",
        "car-query": f"/ipfs/{pb_cid}?format=car&dag-scope=entity&entity-bytes=-100:*&car-dups=n&car-order=dfs",
        "accept-q": f"/ipfs/{raw_cid}\nAccept: text/html;q=0.9, application/vnd.ipld.dag-json;q=1.0, application/x-tar",
        "codec-format": f"/ipfs/{raw_cid}?format=dag-cbor\nAccept: application/vnd.ipld.dag-cbor",
        "sw": f"/ipfs/{raw_cid}\nService-Worker: script",
    }.items():
        put("gateway_request", name, req)

    # ---- gateway Range headers (8-byte size, then the header)
    for name, (size, h) in {
        "from-to": (1000, "bytes=0-99"), "open": (1000, "bytes=500-"),
        "suffix": (1000, "bytes=-200"), "beyond": (10, "bytes=20-30"),
        "multi": (1000, "bytes=0-1,5-6"), "spaces": (1 << 40, " bytes= 7 - 9 "),
    }.items():
        put("gateway_range", name, size.to_bytes(8, "big") + h.encode())

    # ---- CIDs and paths
    for name, s in {
        "v0": pb_cid, "v1-b32": raw_cid,
        "v1-b58": "zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA",
        "b36": "k2jmtxw8rjh1z69c6not3wt0ylat5iiwgpwaevqw2wgjyqjr4pkxhxmq",
        "dag-path": f"/ipld/{raw_cid}/a/0/../b/./c",
        "ipfs-uri": f"ipfs://{pb_cid}/x/y",
        "ipfs-path": f"/ipfs/{pb_cid}//x/ y /",
    }.items():
        put("cid", name, s)
    put("cid", "v1-bytes", c_raw)
    put("cid", "v0-bytes", c_pb)


if __name__ == "__main__":
    main()
