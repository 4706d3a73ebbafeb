//! The document `ferrite init` writes, before profiles.

use serde_json::{json, Map, Value};

use crate::addresses::default_addresses;
use crate::datastore::{DEFAULT_GC_PERIOD, DEFAULT_STORAGE_GC_WATERMARK, DEFAULT_STORAGE_MAX};
use crate::Identity;

/// The init document, in the order Kubo's `ipfs init` writes it; values Kubo
/// leaves to implicit defaults are `null` or absent here too.
pub(crate) fn default_document(identity: &Identity) -> Value {
    let mut doc = Map::new();
    let mut add = |k: &str, v: Value| {
        doc.insert(k.to_owned(), v);
    };
    add(
        "Identity",
        json!({ "PeerID": identity.peer_id, "PrivKey": identity.private_key }),
    );
    add(
        "Datastore",
        json!({
            "StorageMax": DEFAULT_STORAGE_MAX,
            "StorageGCWatermark": DEFAULT_STORAGE_GC_WATERMARK,
            "GCPeriod": DEFAULT_GC_PERIOD,
            "HashOnRead": false,
            "BloomFilterSize": 0,
            "BlockKeyCacheSize": null,
        }),
    );
    add("Addresses", default_addresses());
    add(
        "Mounts",
        json!({
            "IPFS": "/ipfs", "IPNS": "/ipns", "MFS": "/mfs",
            "FuseAllowOther": null, "StoreMtime": null, "StoreMode": null,
        }),
    );
    add("Discovery", json!({ "MDNS": { "Enabled": true } }));
    // Kubo writes ["auto"] here (public delegated routers); Ferrite does not.
    add("Routing", json!({ "DelegatedRouters": [] }));
    add(
        "Ipns",
        json!({
            "RepublishPeriod": "",
            "RecordLifetime": "",
            "ResolveCacheSize": 128,
            "DelegatedPublishers": [],
        }),
    );
    // Private network first: no bootstrap peers until the user adds some.
    add("Bootstrap", json!([]));
    add(
        "Gateway",
        json!({
            "HTTPHeaders": {},
            "RootRedirect": "",
            "NoFetch": false,
            "NoDNSLink": false,
            "DeserializedResponses": null,
            "AllowCodecConversion": null,
            "DisableHTMLErrors": null,
            "PublicGateways": null,
            "ExposeRoutingAPI": null,
        }),
    );
    add("API", json!({ "HTTPHeaders": {} }));
    add(
        "Swarm",
        json!({
            "AddrFilters": null,
            "DisableBandwidthMetrics": false,
            "DisableNatPortMap": false,
            "RelayClient": {},
            "RelayService": {},
            "Transports": { "Network": {}, "Security": {}, "Multiplexers": {} },
            "ConnMgr": {},
            "ResourceMgr": {},
        }),
    );
    add("AutoNAT", json!({}));
    add("AutoTLS", json!({}));
    add("Pubsub", json!({ "Router": "", "DisableSigning": false }));
    add("Peering", json!({ "Peers": null }));
    add("DNS", json!({ "Resolvers": {} }));
    add("Migration", json!({}));
    // Nothing is left to AutoConf ("auto"), so keep it from contacting its
    // public endpoint if this config is ever used by Kubo.
    add("AutoConf", json!({ "Enabled": false }));
    add("Provide", json!({ "DHT": {} }));
    add("Provider", json!({}));
    add("Reprovider", json!({}));
    add("HTTPRetrieval", json!({}));
    add(
        "Experimental",
        json!({
            "FilestoreEnabled": false,
            "UrlstoreEnabled": false,
            "Libp2pStreamMounting": false,
            "P2pHttpProxy": false,
            "OptimisticProvide": false,
            "OptimisticProvideJobsPoolSize": 0,
        }),
    );
    add("Plugins", json!({ "Plugins": null }));
    add("Pinning", json!({ "RemoteServices": {} }));
    add(
        "Import",
        json!({
            "CidVersion": null,
            "UnixFSRawLeaves": null,
            "UnixFSChunker": null,
            "HashFunction": null,
            "UnixFSFileMaxLinks": null,
            "UnixFSDirectoryMaxLinks": null,
            "UnixFSHAMTDirectoryMaxFanout": null,
            "UnixFSHAMTDirectorySizeThreshold": null,
            "UnixFSHAMTDirectorySizeEstimation": null,
            "UnixFSDAGLayout": null,
            "BatchMaxNodes": null,
            "BatchMaxSize": null,
        }),
    );
    add("Version", json!({}));
    add("Internal", json!({}));
    add("Bitswap", json!({}));
    Value::Object(doc)
}
