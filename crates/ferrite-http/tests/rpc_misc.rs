//! The RPC API's block, dag, refs, cid, config, version/id and shutdown
//! commands over real HTTP, field by field against Kubo's shapes.

mod misc_support;

use misc_support::TestApi;
use serde_json::{json, Value};

/// `{"a":1}` in dag-cbor.
const CBOR_A1: &[u8] = &[0xa1, 0x61, 0x61, 0x01];

fn key(v: &Value) -> String {
    v["Key"].as_str().unwrap().to_string()
}

fn dag_put(api: &TestApi, doc: &str) -> String {
    let r = api.post_files("dag/put", &[doc.as_bytes()]);
    assert_eq!(r.status, 200, "{}", r.text());
    r.ndjson()[0]["Cid"]["/"].as_str().unwrap().to_string()
}

#[test]
fn block_put_get_stat_with_codecs_and_hashes() {
    let api = TestApi::start();
    let r = api.post_files("block/put", &[CBOR_A1]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-chunked-output"), Some("1"));
    let raw = &r.ndjson()[0];
    assert_eq!(raw.as_object().unwrap().len(), 2, "{raw}");
    assert!(key(raw).starts_with("bafkrei"), "{raw}");
    assert_eq!(raw["Size"], 4);

    let r = api.post_files("block/put?cid-codec=dag-cbor", &[CBOR_A1]);
    let cbor = key(&r.ndjson()[0]);
    assert!(cbor.starts_with("bafyrei"), "{cbor}");
    assert_ne!(cbor, key(raw));
    // Same digest, other codec: dag/put of the same node agrees.
    assert_eq!(dag_put(&api, r#"{"a":1}"#), cbor);

    for cid in [key(raw), cbor.clone()] {
        let g = api.post(&format!("block/get?arg={cid}"));
        assert_eq!(g.status, 200);
        assert_eq!(g.body, CBOR_A1);
        assert_eq!(g.header("content-type"), Some("application/vnd.ipld.raw"));
        assert_eq!(g.header("x-stream-output"), Some("1"));
        let s = api.post(&format!("block/stat?arg=/ipfs/{cid}"));
        assert_eq!(s.json(), json!({"Key": cid, "Size": 4}));
        assert!(s.header("x-chunked-output").is_none());
    }

    // Several parts: one line each, in order.
    let r = api.post_files("block/put?mhtype=sha2-512", &[b"one", b"two"]);
    let lines = r.ndjson();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["Size"], 3);
    assert_ne!(lines[0]["Key"], lines[1]["Key"]);
    // sha2-512 CIDs are longer than sha2-256 ones.
    assert!(key(&lines[0]).len() > key(raw).len());

    // mhlen: the full length is accepted, truncation refused (the store
    // verifies full digests), too long is Kubo's error.
    let r = api.post_files("block/put?mhlen=32", &[b"one"]);
    assert_eq!(r.status, 200, "{}", r.text());
    api.post_files("block/put?mhlen=20", &[b"one"])
        .assert_error(500, 0, "mhlen 20 is not supported");
    api.post_files("block/put?mhlen=33", &[b"one"])
        .assert_error(500, 0, "requested length was too large");

    // CIDv0 through the deprecated format option.
    let pb_empty: &[u8] = &[];
    let r = api.post_files("block/put?format=v0", &[pb_empty]);
    assert_eq!(
        key(&r.ndjson()[0]),
        "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n"
    );

    // Invalid data for a decoding codec is refused.
    let r = api.post_files("block/put?cid-codec=dag-cbor", &[b"\xff\xff"]);
    assert_eq!(r.status, 500, "{}", r.text());
}

#[test]
fn block_put_big_blocks_and_pin() {
    let api = TestApi::start();
    let big = vec![7u8; 2 * 1024 * 1024 + 1];
    let r = api.post_files("block/put", &[&big]);
    r.assert_error(500, 0, "produced block is over 2MiB");
    let r = api.post_files("block/put?allow-big-block=true", &[&big]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.ndjson()[0]["Size"], big.len());

    let r = api.post_files("block/put?pin=true", &[b"pinned"]);
    let cid = key(&r.ndjson()[0]);
    let rm = api.post(&format!("block/rm?arg={cid}"));
    assert_eq!(rm.status, 200);
    let line = &rm.ndjson()[0];
    assert_eq!(line["Hash"], cid.as_str());
    assert!(line["Error"].as_str().unwrap().contains("pinned"), "{line}");
}

#[test]
fn block_rm_shapes() {
    let api = TestApi::start();
    let a = key(&api.post_files("block/put", &[b"a"]).ndjson()[0]);
    let b = key(&api.post_files("block/put", &[b"b"]).ndjson()[0]);
    let r = api.post(&format!("block/rm?arg={a}"));
    assert_eq!(r.header("x-chunked-output"), Some("1"));
    assert_eq!(r.ndjson(), vec![json!({"Hash": a})]);
    // Gone now: an error line, not a failed request.
    let r = api.post(&format!("block/rm?arg={a}"));
    assert_eq!(r.status, 200);
    let line = &r.ndjson()[0];
    assert_eq!(line["Hash"], a.as_str());
    assert!(!line["Error"].as_str().unwrap().is_empty());
    // force: missing blocks are fine; quiet: successes are not listed.
    let r = api.post(&format!("block/rm?arg={a}&arg={b}&force=true&quiet=true"));
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "");
    assert_eq!(api.post(&format!("block/stat?arg={b}")).status, 500);
}

#[test]
fn dag_put_get_resolve() {
    let api = TestApi::start();
    let leaf = dag_put(&api, r#"{"a":1}"#);
    let root = dag_put(
        &api,
        &format!(r#"{{"l":{{"/":"{leaf}"}},"x":{{"y":[5,6]}}}}"#),
    );

    let r = api.post(&format!("dag/get?arg={root}/x/y"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("x-stream-output"), Some("1"));
    assert_eq!(r.text(), "[5,6]");
    let r = api.post(&format!("dag/get?arg={root}/l"));
    assert_eq!(r.text(), r#"{"a":1}"#);
    let r = api.post(&format!("dag/get?arg={leaf}&output-codec=dag-cbor"));
    assert_eq!(r.body, CBOR_A1);
    let r = api.post(&format!("dag/get?arg={leaf}&output-codec=nope"));
    assert_eq!(r.status, 500);

    let r = api.post(&format!("dag/resolve?arg=/ipfs/{root}/x/y"));
    assert_eq!(r.json(), json!({"Cid": {"/": root}, "RemPath": "x/y"}));
    let r = api.post(&format!("dag/resolve?arg={root}/l"));
    assert_eq!(r.json(), json!({"Cid": {"/": leaf}, "RemPath": ""}));

    // Codecs and hash.
    let r = api.post_files(
        "dag/put?store-codec=dag-json&input-codec=dag-json&hash=sha2-512&pin=true",
        &[b"[1,2]"],
    );
    let c = r.ndjson()[0]["Cid"]["/"].as_str().unwrap().to_string();
    assert!(c.starts_with("baguq"), "{c}");
    let pins = api
        .node
        .pin_ls(&[], ferrite_node::PinLsType::Recursive)
        .unwrap();
    assert!(pins.iter().any(|p| p.cid.to_string() == c));
    let r = api.post_files("dag/put?store-codec=nope", &[b"{}"]);
    r.assert_error(500, 0, "nope");
    // Two parts, two CIDs.
    let r = api.post_files("dag/put", &[b"1", b"2"]);
    assert_eq!(r.ndjson().len(), 2);
}

#[test]
fn dag_stat_shapes() {
    let api = TestApi::start();
    let leaf = dag_put(&api, r#"{"a":1}"#);
    let root = dag_put(&api, &format!(r#"{{"l":{{"/":"{leaf}"}}}}"#));
    let root_size = api.post(&format!("block/stat?arg={root}")).json()["Size"]
        .as_u64()
        .unwrap();
    let total = root_size + 4;

    let r = api.post(&format!("dag/stat?arg={root}&progress=false"));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.ndjson(),
        vec![json!({
            "UniqueBlocks": 2,
            "TotalSize": total,
            "Ratio": 1,
            "DagStats": [{"Cid": root, "Size": total, "NumBlocks": 2}],
        })]
    );

    // progress (the default): one summary per block, then the final one.
    let r = api.post(&format!("dag/stat?arg={root}"));
    let lines = r.ndjson();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0],
        json!({"TotalSize": root_size, "DagStats": [{"Cid": root, "Size": root_size, "NumBlocks": 1}]})
    );
    assert_eq!(lines[2]["Ratio"], 1);

    // Two roots sharing the leaf.
    let r = api.post(&format!("dag/stat?arg={root}&arg={leaf}&progress=false"));
    let v = &r.ndjson()[0];
    assert_eq!(v["UniqueBlocks"], 2);
    assert_eq!(v["TotalSize"], total);
    assert_eq!(v["SharedSize"], 4);
    let ratio = (total + 4) as f32 / total as f32;
    assert_eq!(v["Ratio"].as_f64().unwrap() as f32, ratio);
    assert_eq!(
        v["DagStats"][1],
        json!({"Cid": leaf, "Size": 4, "NumBlocks": 1})
    );

    // A path through a link stats the linked block; one ending inside a
    // node is refused.
    let r = api.post(&format!("dag/stat?arg={root}/l&progress=false"));
    assert_eq!(r.ndjson()[0]["DagStats"][0]["Cid"], leaf.as_str());
    let inner = dag_put(&api, r#"{"x":{"y":1}}"#);
    let r = api.post(&format!("dag/stat?arg={inner}/x"));
    r.assert_error(500, 0, "cannot return size");
}

#[test]
fn dag_export_import_round_trip() {
    let src = TestApi::start();
    let leaf = dag_put(&src, r#"{"a":1}"#);
    let root = dag_put(&src, &format!(r#"{{"l":{{"/":"{leaf}"}}}}"#));
    let r = src.post(&format!("dag/export?arg={root}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/vnd.ipld.car"));
    assert_eq!(r.header("x-stream-output"), Some("1"));
    let car = r.body;

    let dst = TestApi::start();
    // A truncated CAR: an error, nothing stored, nothing pinned.
    let r = dst.post_files("dag/import", &[&car[..car.len() - 3]]);
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.json()["Type"], "error");
    assert_eq!(dst.post(&format!("block/stat?arg={root}")).status, 500);
    assert!(dst
        .node
        .pin_ls(&[], ferrite_node::PinLsType::All)
        .unwrap()
        .is_empty());

    let r = dst.post_files("dag/import?stats=true", &[&car]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-chunked-output"), Some("1"));
    let root_size = src.post(&format!("block/stat?arg={root}")).json()["Size"]
        .as_u64()
        .unwrap();
    assert_eq!(
        r.ndjson(),
        vec![
            json!({"Root": {"Cid": {"/": root}, "PinErrorMsg": ""}}),
            json!({"Stats": {"BlockCount": 2, "BlockBytesCount": root_size + 4}}),
        ]
    );
    let pins = dst
        .node
        .pin_ls(&[], ferrite_node::PinLsType::Recursive)
        .unwrap();
    assert_eq!(pins.len(), 1);
    assert_eq!(pins[0].cid.to_string(), root);

    // pin-roots=false and no stats: no lines at all.
    let other = TestApi::start();
    let r = other.post_files("dag/import?pin-roots=false", &[&car]);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "");
    assert!(other
        .node
        .pin_ls(&[], ferrite_node::PinLsType::All)
        .unwrap()
        .is_empty());

    // A root whose DAG is incomplete is reported, not fatal.
    let partial = TestApi::start();
    let mut cut = car.clone();
    // Drop the leaf block (the last section) but keep a valid CAR.
    let leaf_section = 1 + 36 + 4; // varint length, CIDv1 dag-cbor sha2-256, data
    cut.truncate(car.len() - leaf_section);
    let r = partial.post_files("dag/import", &[&cut]);
    assert_eq!(r.status, 200, "{}", r.text());
    let line = &r.ndjson()[0];
    assert_eq!(line["Root"]["Cid"]["/"], root.as_str());
    assert!(!line["Root"]["PinErrorMsg"].as_str().unwrap().is_empty());

    // No file part.
    let r = dst.post("dag/import");
    r.assert_error(400, 1, "file argument 'path' is required");
    // Export of a missing root is a plain error.
    let r = partial.post(&format!("dag/export?arg={leaf}"));
    r.assert_error(500, 0, "not found");
}

#[test]
fn dag_export_error_mid_stream_is_a_trailer() {
    let api = TestApi::start();
    let leaf = dag_put(&api, r#"{"a":1}"#);
    let root = dag_put(&api, &format!(r#"{{"l":{{"/":"{leaf}"}}}}"#));
    api.post(&format!("block/rm?arg={leaf}"));
    let r = api.post(&format!("dag/export?arg={root}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("trailer"), Some("X-Stream-Error"));
    assert!(
        r.trailer("x-stream-error").unwrap().contains(&leaf),
        "{:?}",
        r.trailers
    );
}

/// root → (a → c), b, as dag-cbor links.
fn refs_tree(api: &TestApi) -> (String, String, String, String) {
    let c = dag_put(api, r#""c""#);
    let b = dag_put(api, r#""b""#);
    let a = dag_put(api, &format!(r#"[{{"/":"{c}"}}]"#));
    let root = dag_put(
        api,
        &format!(r#"[{{"/":"{a}"}},{{"/":"{b}"}},{{"/":"{b}"}}]"#),
    );
    (root, a, b, c)
}

fn refs_list(api: &TestApi, q: &str) -> Vec<String> {
    let r = api.post(&format!("refs?{q}"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-chunked-output"), Some("1"));
    r.ndjson()
        .into_iter()
        .map(|v| {
            assert_eq!(v["Err"], "", "{v}");
            assert_eq!(v.as_object().unwrap().len(), 2);
            v["Ref"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn refs_options() {
    let api = TestApi::start();
    let (root, a, b, c) = refs_tree(&api);
    assert_eq!(
        refs_list(&api, &format!("arg={root}")),
        [a.clone(), b.clone(), b.clone()]
    );
    assert_eq!(
        refs_list(&api, &format!("arg={root}&unique=true")),
        [a.clone(), b.clone()]
    );
    assert_eq!(
        refs_list(&api, &format!("arg={root}&recursive=true")),
        [a.clone(), c.clone(), b.clone(), b.clone()]
    );
    assert_eq!(
        refs_list(&api, &format!("arg={root}&recursive=true&max-depth=1")),
        [a.clone(), b.clone(), b.clone()]
    );
    // max-depth without recursive: direct refs only, as Kubo.
    assert_eq!(
        refs_list(&api, &format!("arg={root}&max-depth=5")),
        [a.clone(), b.clone(), b.clone()]
    );
    assert_eq!(
        refs_list(&api, &format!("arg={root}&edges=true&unique=true")),
        [format!("{root} -> {a}"), format!("{root} -> {b}")]
    );
    assert_eq!(
        refs_list(&api, &format!("arg={a}&format=%3Csrc%3E+%3Cdst%3E")),
        [format!("{a} {c}")]
    );
    let r = api.post(&format!("refs?arg={root}&edges=true&format=x"));
    r.assert_error(500, 0, "using format argument with edges is not allowed");
    let r = api.post("refs?arg=notacid");
    assert_eq!(r.status, 500);
    api.post("refs")
        .assert_error(400, 1, "argument \"ipfs-path\" is required");
    let r = api.post(&format!("refs?arg={root}&max-depth=x"));
    r.assert_error(400, 1, "could not convert value \"x\"");

    let r = api.post("refs/local");
    let all: Vec<String> = r
        .ndjson()
        .into_iter()
        .map(|v| v["Ref"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all.len(), 4);
    // refs/local names blocks as CIDv1 raw of their multihash.
    for cid in [root.clone(), a.clone(), b.clone(), c.clone()] {
        let mh_part =
            api.post(&format!("cid/format?arg={cid}&f=%25M")).ndjson()[0]["Formatted"].clone();
        assert!(all.iter().any(|r| {
            api.post(&format!("cid/format?arg={r}&f=%25M")).ndjson()[0]["Formatted"] == mh_part
        }));
    }
}

#[test]
fn refs_streams_then_reports_a_missing_block() {
    let api = TestApi::start();
    let (root, a, b, c) = refs_tree(&api);
    api.post(&format!("block/rm?arg={c}"));
    let r = api.post(&format!("refs?arg={root}&recursive=true"));
    assert_eq!(r.status, 200);
    let lines = r.ndjson();
    assert_eq!(lines[0], json!({"Ref": a, "Err": ""}));
    assert_eq!(lines[1], json!({"Ref": c, "Err": ""}));
    let last = lines.last().unwrap();
    assert_eq!(last["Ref"], "");
    assert!(last["Err"].as_str().unwrap().contains(&c), "{last}");
    let _ = b;
}

#[test]
fn cid_commands() {
    let api = TestApi::start();
    let v0 = "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n";
    let r = api.post(&format!("cid/base32?arg={v0}&arg=nope"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-chunked-output"), Some("1"));
    let lines = r.ndjson();
    let expected = ferrite_ipld::cidfmt::CidFormatter::base32()
        .format(v0)
        .unwrap();
    assert_eq!(
        lines[0],
        json!({"CidStr": v0, "Formatted": expected, "ErrorMsg": ""})
    );
    assert_eq!(lines[1]["CidStr"], "nope");
    assert_eq!(lines[1]["Formatted"], "");
    assert!(!lines[1]["ErrorMsg"].as_str().unwrap().is_empty());

    let r = api.post(&format!(
        "cid/format?arg={v0}&v=1&b=base36&f=%25b-%25v-%25c"
    ));
    assert_eq!(r.ndjson()[0]["Formatted"], "base36-cidv1-dag-pb");
    let r = api.post(&format!("cid/format?arg={v0}&f=%25Q"));
    r.assert_error(500, 0, "%Q");
    let r = api.post(&format!("cid/format?arg={v0}&v=2"));
    r.assert_error(500, 0, "invalid cid version");

    let bases = api.post("cid/bases").json();
    assert!(bases
        .as_array()
        .unwrap()
        .contains(&json!({"Code": 98, "Name": "base32"})));
    assert!(bases
        .as_array()
        .unwrap()
        .contains(&json!({"Code": 122, "Name": "base58btc"})));
    let codecs = api.post("cid/codecs").json();
    assert!(codecs
        .as_array()
        .unwrap()
        .contains(&json!({"Code": 112, "Name": "dag-pb"})));
    let supported = api.post("cid/codecs?supported=true").json();
    assert!(supported.as_array().unwrap().len() < codecs.as_array().unwrap().len());
    assert!(supported
        .as_array()
        .unwrap()
        .contains(&json!({"Code": 113, "Name": "dag-cbor"})));
    let hashes = api.post("cid/hashes").json();
    assert!(hashes
        .as_array()
        .unwrap()
        .contains(&json!({"Code": 18, "Name": "sha2-256"})));
}

#[test]
fn config_commands() {
    let api = TestApi::start();
    let r = api.post("config?arg=Addresses.API");
    assert_eq!(
        r.json(),
        json!({"Key": "Addresses.API", "Value": "/ip4/127.0.0.1/tcp/0"})
    );
    let r = api.post("config?arg=Datastore.StorageMax&arg=20GB");
    assert_eq!(
        r.json(),
        json!({"Key": "Datastore.StorageMax", "Value": "20GB"})
    );
    assert_eq!(api.node.config().storage_max().unwrap(), 20_000_000_000);
    let r = api.post("config?arg=Swarm.ConnMgr.HighWater&arg=200&json=true");
    assert_eq!(r.json()["Value"], 200);
    let r = api.post("config?arg=Discovery.MDNS.Enabled&arg=true&bool=true");
    assert_eq!(r.json()["Value"], true);
    let r = api.post("config?arg=Foo.Bar&arg=%7B%22a%22%3A1%7D&json");
    assert_eq!(r.json()["Value"], json!({"a": 1}));
    api.post("config?arg=Identity.PrivKey").assert_error(
        500,
        0,
        "cannot show or change private key through API",
    );
    api.post("config?arg=No.Such.Key").assert_error(500, 0, "");
    api.post("config")
        .assert_error(400, 1, "argument \"key\" is required");
    api.post("config?arg=Swarm.ConnMgr.HighWater&arg=x&json=true")
        .assert_error(500, 0, "failed to unmarshal json");

    let shown = api.post("config/show").json();
    assert!(shown["Identity"].get("PrivKey").is_none());
    assert_eq!(shown["Identity"]["PeerID"], api.post("id").json()["ID"]);
    assert_eq!(shown["Foo"]["Bar"]["a"], 1);

    let mut edited = shown.clone();
    edited["Datastore"]["StorageMax"] = json!("30GB");
    let r = api.post_files(
        "config/replace",
        &[serde_json::to_string(&edited).unwrap().as_bytes()],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "");
    assert_eq!(api.node.config().storage_max().unwrap(), 30_000_000_000);
    // The private key survived the replace.
    assert!(api.node.config().keypair().is_ok());
    api.post("config/replace")
        .assert_error(400, 1, "file argument");

    let before = api.node.config().show();
    let r = api.post("config/profile/apply?arg=lowpower&dry-run=true");
    let v = r.json();
    assert_eq!(v.as_object().unwrap().len(), 2);
    assert_eq!(v["OldCfg"], before);
    assert_ne!(v["NewCfg"], before);
    assert!(v["NewCfg"]["Identity"].get("PrivKey").is_none());
    assert_eq!(api.node.config().show(), before);
    let r = api.post("config/profile/apply?arg=lowpower");
    assert_eq!(api.node.config().show(), r.json()["NewCfg"]);
    api.post("config/profile/apply?arg=nope")
        .assert_error(500, 0, "nope");
}

#[test]
fn version_id_shutdown() {
    let mut api = TestApi::start();
    let v = api.post("version").json();
    for k in ["Version", "Commit", "Repo", "System", "Golang"] {
        assert!(v[k].is_string(), "{k} in {v}");
    }
    let id = api.post("id").json();
    let keys: Vec<&str> = id.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        ["ID", "PublicKey", "Addresses", "AgentVersion", "Protocols"]
    );
    let peer = id["ID"].as_str().unwrap().to_string();
    assert!(peer.starts_with("12D3KooW"), "{peer}");
    assert_eq!(peer, api.node.config().peer_id().unwrap());
    assert!(id["PublicKey"].as_str().unwrap().starts_with("CAES"));
    assert!(id["Addresses"].is_array());
    assert!(id["AgentVersion"].as_str().unwrap().starts_with("ferrite/"));
    // Own ID as argument, other bases, format.
    assert_eq!(
        api.post(&format!("id?arg={peer}")).json()["ID"],
        peer.as_str()
    );
    let b36 = api.post("id?peerid-base=base36").json();
    assert!(b36["ID"].as_str().unwrap().starts_with("k51"), "{b36}");
    let f = api.post("id?format=%3Cid%3E").json();
    assert_eq!(f, json!(peer));
    assert_eq!(api.post("id?arg=12D3KooWxxxx").status, 500);

    assert!(api.shutdown_rx.try_recv().is_err());
    let r = api.post("shutdown");
    assert_eq!(r.status, 200);
    assert!(api.shutdown_rx.try_recv().is_ok());
}

#[test]
fn request_errors() {
    let api = TestApi::start();
    let r = api.post("no/such/command");
    assert_eq!(r.status, 404);
    assert_eq!(r.text().trim(), "404 page not found");
    let r = api.request("GET", "/api/v0/version", &[], None);
    assert_eq!(r.status, 405);
    assert_eq!(r.text().trim(), "405 - Method Not Allowed");
    assert_eq!(r.header("allow"), Some("OPTIONS, POST"));
    api.post("block/get")
        .assert_error(400, 1, "argument \"cid\" is required");
    api.post("block/stat")
        .assert_error(400, 1, "argument \"cid\" is required");
    api.post("dag/get")
        .assert_error(400, 1, "argument \"ref\" is required");
    api.post("block/put")
        .assert_error(400, 1, "file argument 'data' is required");
    api.post("block/get?arg=notacid")
        .assert_error(500, 0, "notacid");
    api.post_files("block/put?pin=maybe", &[b"x"]).assert_error(
        400,
        1,
        "could not convert value \"maybe\" to type bool",
    );
    api.post_files("block/put?mhlen=x", &[b"x"]).assert_error(
        400,
        1,
        "could not convert value \"x\"",
    );
    api.post_files("block/put?mhtype=md77", &[b"x"])
        .assert_error(500, 0, "unrecognized multihash function: md77");
    api.post("dag/stat?arg=notacid").assert_error(500, 0, "");
    // A block that is not there.
    let missing = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
    api.post(&format!("block/get?arg={missing}"))
        .assert_error(500, 0, "not found");
}

fn car(roots: &[&str], blocks: &[(String, Vec<u8>)]) -> Vec<u8> {
    let roots: Vec<ferrite_ipld::Cid> = roots.iter().map(|r| r.parse().unwrap()).collect();
    let mut w = ferrite_ipld::car::CarWriter::new(Vec::new(), &roots).unwrap();
    for (cid, data) in blocks {
        w.write_block(&cid.parse().unwrap(), data).unwrap();
    }
    w.finish().unwrap()
}

fn raw_cid(data: &[u8]) -> String {
    ferrite_ipld::Cid::new_v1(
        ferrite_ipld::codecs::RAW,
        ferrite_ipld::HashAlg::Sha2_256.digest(data),
    )
    .to_string()
}

#[test]
fn dag_import_spans_files_and_streams_big_cars() {
    let src = TestApi::start();
    let leaf = dag_put(&src, r#"{"a":1}"#);
    let root = dag_put(&src, &format!(r#"{{"l":{{"/":"{leaf}"}}}}"#));
    let get = |c: &str| src.post(&format!("block/get?arg={c}")).body;
    // The root's DAG is complete only once both files are in.
    let car1 = car(&[&root], &[(root.clone(), get(&root))]);
    let car2 = car(&[&leaf], &[(leaf.clone(), get(&leaf))]);
    let dst = TestApi::start();
    let r = dst.post_files("dag/import?stats=true", &[&car1, &car2]);
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = r.ndjson();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0],
        json!({"Root": {"Cid": {"/": root}, "PinErrorMsg": ""}})
    );
    assert_eq!(
        lines[1],
        json!({"Root": {"Cid": {"/": leaf}, "PinErrorMsg": ""}})
    );
    assert_eq!(lines[2]["Stats"]["BlockCount"], 2);

    // 6 MiB in 1 MiB blocks, streamed through the multipart reader.
    let blocks: Vec<(String, Vec<u8>)> = (0..6u8)
        .map(|i| {
            let data: Vec<u8> = (0..1024 * 1024u32)
                .map(|j| (j.wrapping_mul(31) as u8) ^ i)
                .collect();
            (raw_cid(&data), data)
        })
        .collect();
    let big = car(&[&blocks[0].0], &blocks);
    let r = dst.post_files("dag/import?stats=true&pin-roots=false", &[&big]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.ndjson(),
        vec![json!({"Stats": {"BlockCount": 6, "BlockBytesCount": 6 * 1024 * 1024}})]
    );
    assert_eq!(
        dst.post(&format!("block/get?arg={}", blocks[5].0)).body,
        blocks[5].1
    );

    // Blocks over 2 MiB need allow-big-block; a refused import stores nothing.
    let huge: Vec<u8> = vec![9; 2 * 1024 * 1024 + 1];
    let hcid = raw_cid(&huge);
    let small = b"small".to_vec();
    let scid = raw_cid(&small);
    let c = car(&[&hcid], &[(scid.clone(), small), (hcid.clone(), huge)]);
    let r = dst.post_files("dag/import", &[&c]);
    r.assert_error(500, 0, "produced block is over 2MiB");
    assert_eq!(dst.post(&format!("block/stat?arg={scid}")).status, 500);
    let r = dst.post_files("dag/import?allow-big-block=true", &[&c]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.ndjson()[0]["Root"]["PinErrorMsg"], "");
}

#[test]
fn cid_base_option() {
    let api = TestApi::start();
    let v0 = key(&api.post_files("block/put?format=v0", &[b""]).ndjson()[0]);
    assert!(v0.starts_with("Qm"));
    let v1 = key(&api.post_files("block/put", &[b"x"]).ndjson()[0]);
    // cid-base upgrades CIDv0 unless told not to.
    let k = key(&api
        .post(&format!("block/stat?arg={v0}&cid-base=base32"))
        .json());
    assert!(k.starts_with("bafybei"), "{k}");
    let k = key(&api
        .post(&format!(
            "block/stat?arg={v0}&cid-base=base32&upgrade-cidv0-in-output=false"
        ))
        .json());
    assert_eq!(k, v0);
    let k = key(&api
        .post(&format!("block/stat?arg={v1}&cid-base=base36"))
        .json());
    assert!(k.starts_with('k'), "{k}");
    let r = api.post_files("block/put?cid-base=base16", &[b"x"]);
    assert!(key(&r.ndjson()[0]).starts_with('f'));
    let locals = api.post("refs/local?cid-base=base58btc").ndjson();
    assert!(locals
        .iter()
        .all(|l| l["Ref"].as_str().unwrap().starts_with('z')));
    api.post(&format!("block/stat?arg={v1}&cid-base=nope"))
        .assert_error(500, 0, "nope");
}

#[test]
fn put_hash_defaults_to_import_hash_function() {
    let api = TestApi::start();
    let plain = key(&api.post_files("block/put", &[b"x"]).ndjson()[0]);
    let dag_plain = dag_put(&api, "1");
    let mut cfg = api.node.config();
    cfg.set("Import.HashFunction", json!("sha2-512")).unwrap();
    api.node
        .update_config(|c| {
            *c = cfg;
            Ok::<(), ferrite_node::Error>(())
        })
        .unwrap();
    let k = key(&api.post_files("block/put", &[b"x"]).ndjson()[0]);
    assert_ne!(k, plain);
    let c = dag_put(&api, "1");
    assert_ne!(c, dag_plain);
    // An explicit option wins.
    assert_eq!(
        key(&api
            .post_files("block/put?mhtype=sha2-256", &[b"x"])
            .ndjson()[0]),
        plain
    );
    assert_eq!(
        api.post_files("dag/put?hash=sha2-256", &[b"1"]).ndjson()[0]["Cid"]["/"],
        dag_plain.as_str()
    );
}

/// Clients that do not read trailers (Kubo's Go and JS clients, curl) must
/// see a failure mid-stream as a truncated answer, not a complete one.
#[test]
fn a_stream_that_cannot_complete_is_aborted() {
    let api = TestApi::start();
    let data: Vec<u8> = (0..262_144 * 4 + 7).map(|i| (i * 7 % 251) as u8).collect();
    let r = api.post_files("add?pin=false", &[&data]);
    let root = r.ndjson().last().unwrap()["Hash"]
        .as_str()
        .unwrap()
        .to_string();
    let leaves = api.post(&format!("refs?arg={root}")).ndjson();
    let gap = leaves[2]["Ref"].as_str().unwrap().to_string();
    api.post(&format!("block/rm?arg={gap}"));

    for cmd in [format!("cat?arg={root}"), format!("dag/export?arg={root}")] {
        let r = api.post_raw(&cmd, None);
        assert_eq!(r.status(), 200, "{cmd}: {}", r.head);
        assert!(!r.complete, "{cmd}: the truncated answer ended cleanly");
        assert!(!r.body.is_empty(), "{cmd}: nothing before the gap");
    }
    // go-ipfs-cmds clients that ask for trailers get the cause instead
    let r = api.post(&format!("cat?arg={root}"));
    assert!(r.trailer("x-stream-error").unwrap().contains(&gap));

    // An NDJSON stream: add's progress, then a cut upload.
    let b = "b7f1";
    let mut body = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"whole\"\r\n\r\n{}\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut\"\r\n\r\n",
        "x".repeat(10_000)
    )
    .into_bytes();
    body.extend(std::iter::repeat_n(b'y', 300_000));
    let ct = format!("multipart/form-data; boundary={b}");
    let r = api.post_raw("add?progress=true", Some((&ct, body)));
    assert_eq!(r.status(), 200, "{}", r.head);
    assert!(!r.complete, "the failed add ended cleanly");
    let first: Value = serde_json::from_slice(r.body.split(|&c| c == b'\n').next().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&r.body)));
    assert_eq!(first, json!({"Name": "whole", "Bytes": 10_000}));
}
