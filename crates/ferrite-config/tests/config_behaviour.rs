//! Behaviour of the repo configuration: init defaults, profiles, `config`
//! get/set/show/replace, load/save and identity.

use std::time::Duration;

use ferrite_config::addresses::DEFAULT_SWARM_ADDRESSES;
use ferrite_config::bootstrap::PUBLIC_BOOTSTRAP_PEERS;
use ferrite_config::{human_output, profile_names, Config, ConfigError, Identity, ValueMode};
use ferrite_ipld::HashAlg;
use libp2p_identity::{Keypair, PeerId};
use serde_json::{json, Value};

fn fresh() -> Config {
    Config::init::<&str>(&[]).unwrap()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ---- init -----------------------------------------------------------------

#[test]
fn init_defaults_are_kubo_shaped_and_private() {
    let c = fresh();
    let v = c.as_value();

    // Kubo's top-level sections, Identity first.
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys[0], "Identity");
    for k in [
        "Datastore",
        "Addresses",
        "Mounts",
        "Discovery",
        "Routing",
        "Ipns",
        "Bootstrap",
        "Gateway",
        "API",
        "Swarm",
        "Pubsub",
        "Peering",
        "DNS",
        "Reprovider",
        "Experimental",
        "Pinning",
        "Import",
    ] {
        assert!(keys.contains(&k), "missing {k}");
    }

    // Private network first: nothing public.
    assert_eq!(v["Bootstrap"], json!([]));
    assert_eq!(c.bootstrap().unwrap(), Vec::<String>::new());
    assert!(!has_public_peer(&c));
    assert!(!c.to_json_string().contains("\"auto\""));

    let a = c.addresses().unwrap();
    assert_eq!(a.swarm, strs(&DEFAULT_SWARM_ADDRESSES));
    assert!(a.swarm.contains(&"/ip4/0.0.0.0/tcp/4001".to_string()));
    assert!(a.swarm.contains(&"/ip6/::/tcp/4001".to_string()));
    assert!(a
        .swarm
        .contains(&"/ip4/0.0.0.0/udp/4001/quic-v1".to_string()));
    assert_eq!(a.api, strs(&["/ip4/127.0.0.1/tcp/5001"]));
    assert_eq!(a.gateway, strs(&["/ip4/127.0.0.1/tcp/8080"]));
    // Kubo writes a single address as a plain string.
    assert_eq!(v["Addresses"]["API"], json!("/ip4/127.0.0.1/tcp/5001"));
    assert_eq!(v["Addresses"]["Announce"], json!([]));

    assert!(c.mdns_enabled().unwrap());
    assert_eq!(v["API"]["HTTPHeaders"], json!({}));

    let s = c.swarm().unwrap();
    assert!(!s.disable_nat_port_map);
    assert!(s.addr_filters.is_empty());
    assert_eq!(s.conn_mgr.kind, "basic");
    assert_eq!((s.conn_mgr.low_water, s.conn_mgr.high_water), (32, 96));
    assert_eq!(s.conn_mgr.grace_period, Duration::from_secs(20));
    assert_eq!(c.routing_type().unwrap(), "auto");

    let r = c.reprovider().unwrap();
    assert!(r.enabled);
    assert_eq!(r.interval, Duration::from_secs(22 * 3600));
    assert_eq!(r.strategy, "all");

    let d = c.datastore().unwrap();
    assert_eq!(v["Datastore"]["StorageMax"], json!("10GB"));
    assert_eq!(d.storage_max, 10_000_000_000);
    assert_eq!(d.storage_gc_watermark, 90);
    assert_eq!(d.gc_period, Duration::from_secs(3600));
    assert_eq!(d.gc_threshold(), 9_000_000_000);

    // Import is left to implicit defaults (null), which are unixfs-v0-2015.
    assert_eq!(v["Import"]["CidVersion"], Value::Null);
    let i = c.import().unwrap();
    assert_eq!(i.cid_version, None);
    assert_eq!(i.effective_cid_version(), 0);
    assert!(!i.effective_raw_leaves());
    assert_eq!(i.effective_chunker(), "size-262144");
    assert_eq!(i.effective_hash().name(), "sha2-256");
    assert_eq!(i.effective_file_max_links(), 174);
    assert_eq!(i.effective_hamt_size_threshold(), 262_144);
    assert_eq!(i.effective_hamt_max_fanout(), 256);
    assert_eq!(i.effective_hamt_size_estimation(), "links");
    assert_eq!(i.effective_dag_layout(), "balanced");

    c.validate().unwrap();
}

#[test]
fn identity_is_ed25519_and_round_trips() {
    let c = fresh();
    let id = c.identity().unwrap();
    assert!(id.peer_id.starts_with("12D3KooW"), "{}", id.peer_id);
    assert_eq!(c.peer_id().unwrap(), id.peer_id);

    let kp = Keypair::from_protobuf_encoding(&c.private_key_bytes().unwrap()).unwrap();
    assert_eq!(kp.public().to_peer_id().to_base58(), id.peer_id);
    assert_eq!(
        c.keypair().unwrap().public().to_peer_id().to_base58(),
        id.peer_id
    );

    // Debug output never leaks the key.
    assert!(!format!("{id:?}").contains(&id.private_key));
    assert!(!format!("{c:?}").contains(&id.private_key));

    // Two inits, two identities.
    assert_ne!(fresh().peer_id().unwrap(), id.peer_id);
}

#[test]
fn init_with_given_keypair_and_mismatch_detection() {
    let kp = Keypair::generate_ed25519();
    let c = Config::init_with_keypair(&kp, &["test"]).unwrap();
    assert_eq!(c.peer_id().unwrap(), kp.public().to_peer_id().to_base58());

    // A PeerID that does not belong to the key is caught.
    let other = Identity::generate();
    let mut bad = c.clone().into_value();
    bad["Identity"]["PeerID"] = json!(other.peer_id);
    let bad = Config::from_value(bad).unwrap();
    let err = bad.keypair().unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
}

#[test]
fn init_with_profiles_and_unknown_profile() {
    let c = Config::init(&["test,unixfs-v1-2025"]).unwrap();
    assert_eq!(c.api_addresses().unwrap(), strs(&["/ip4/127.0.0.1/tcp/0"]));
    assert_eq!(c.import().unwrap().cid_version, Some(1));

    let c = Config::init(&["server", "lowpower"]).unwrap();
    assert!(!c.mdns_enabled().unwrap());
    assert_eq!(c.routing_type().unwrap(), "dhtclient");

    let err = Config::init(&["test", "nope"]).unwrap_err();
    match &err {
        ConfigError::UnknownProfile { name, known } => {
            assert_eq!(name, "nope");
            assert!(known.contains(&"test") && known.contains(&"unixfs-v1-2025"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("nope is not a profile") && msg.contains("lowpower"),
        "{msg}"
    );
}

// ---- profiles ---------------------------------------------------------------

#[test]
fn profile_test() {
    let mut c = Config::init(&["public"]).unwrap();
    assert!(!c.bootstrap().unwrap().is_empty());
    let change = c.apply_profile("test").unwrap();
    assert!(change.old["Identity"].get("PrivKey").is_none());
    assert!(change.new["Identity"].get("PrivKey").is_none());
    assert_eq!(change.new, c.show());

    let a = c.addresses().unwrap();
    assert_eq!(
        a.swarm,
        strs(&["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"])
    );
    assert_eq!(a.api, strs(&["/ip4/127.0.0.1/tcp/0"]));
    assert_eq!(a.gateway, strs(&["/ip4/127.0.0.1/tcp/0"]));
    assert!(c.bootstrap().unwrap().is_empty());
    assert!(!c.mdns_enabled().unwrap());
    assert!(c.swarm().unwrap().disable_nat_port_map);
    let v = c.as_value();
    assert_eq!(v["Routing"]["LoopbackAddressesOnLanDHT"], json!(true));
    assert_eq!(v["AutoTLS"]["Enabled"], json!(false));
    assert_eq!(v["AutoConf"]["Enabled"], json!(false));
    assert_eq!(v["DNS"]["Resolvers"], json!({}));
    c.validate().unwrap();
}

#[test]
fn profile_default_networking_undoes_test() {
    let base = fresh();
    let mut c = base.with_profile("test").unwrap();
    c.set(
        "Bootstrap",
        json!(["/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8"]),
    )
    .unwrap();
    c.apply_profile("default-networking").unwrap();
    assert_eq!(c.addresses().unwrap(), base.addresses().unwrap());
    assert!(c.mdns_enabled().unwrap());
    assert!(!c.swarm().unwrap().disable_nat_port_map);
    assert!(c.as_value()["AutoTLS"].get("Enabled").is_none());
    assert!(c.as_value()["Routing"]
        .get("LoopbackAddressesOnLanDHT")
        .is_none());
    // A private network's bootstrap peers are not wiped.
    assert_eq!(c.bootstrap().unwrap().len(), 1);
}

#[test]
fn profile_server_and_local_discovery() {
    let mut c = fresh();
    c.set("Swarm.AddrFilters", json!(["/ip4/1.2.3.0/ipcidr/24"]))
        .unwrap();
    c.apply_profile("server").unwrap();
    let s = c.swarm().unwrap();
    assert_eq!(s.addr_filters[0], "/ip4/1.2.3.0/ipcidr/24");
    for range in [
        "/ip4/10.0.0.0/ipcidr/8",
        "/ip4/192.168.0.0/ipcidr/16",
        "/ip6/fe80::/ipcidr/10",
    ] {
        assert!(s.addr_filters.iter().any(|f| f == range), "{range}");
        assert!(c
            .addresses()
            .unwrap()
            .no_announce
            .iter()
            .any(|f| f == range));
    }
    assert!(s.disable_nat_port_map);
    assert!(!c.mdns_enabled().unwrap());

    // Applying twice adds nothing twice.
    let n = s.addr_filters.len();
    c.apply_profile("server").unwrap();
    assert_eq!(c.swarm().unwrap().addr_filters.len(), n);

    c.apply_profile("local-discovery").unwrap();
    let s = c.swarm().unwrap();
    assert_eq!(s.addr_filters, strs(&["/ip4/1.2.3.0/ipcidr/24"]));
    assert!(c.addresses().unwrap().no_announce.is_empty());
    assert!(!s.disable_nat_port_map);
    assert!(c.mdns_enabled().unwrap());
}

#[test]
fn profile_lowpower() {
    let mut c = fresh();
    c.apply_profile("lowpower").unwrap();
    assert_eq!(c.routing_type().unwrap(), "dhtclient");
    let cm = c.swarm().unwrap().conn_mgr;
    assert_eq!(cm.kind, "basic");
    assert_eq!((cm.low_water, cm.high_water), (20, 40));
    assert_eq!(cm.grace_period, Duration::from_secs(60));
    assert_eq!(c.reprovider().unwrap().interval, Duration::ZERO);
    let v = c.as_value();
    assert_eq!(v["AutoNAT"]["ServiceMode"], json!("disabled"));
    assert_eq!(v["Swarm"]["RelayService"]["Enabled"], json!(false));

    // Reproviding is off even when the newer Provide key was set.
    let mut c = fresh();
    c.set("Provide.DHT.Interval", json!("12h")).unwrap();
    assert_eq!(
        c.reprovider().unwrap().interval,
        Duration::from_secs(12 * 3600)
    );
    c.apply_profile("lowpower").unwrap();
    assert_eq!(c.reprovider().unwrap().interval, Duration::ZERO);
}

#[test]
fn profile_public_is_the_only_source_of_public_peers() {
    let mut c = fresh();
    c.set(
        "Bootstrap",
        json!(["/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8"]),
    )
    .unwrap();
    c.apply_profile("public").unwrap();
    let b = c.bootstrap().unwrap();
    assert_eq!(b.len(), 8);
    assert!(b[0].starts_with("/ip4/10.0.0.1/"));
    assert!(PUBLIC_BOOTSTRAP_PEERS
        .iter()
        .all(|p| b.iter().any(|a| a == p)));
    c.apply_profile("public").unwrap();
    assert_eq!(c.bootstrap().unwrap().len(), 8);

    // No other profile brings public peers in.
    for name in profile_names().into_iter().filter(|n| *n != "public") {
        let c = fresh().with_profile(name).unwrap();
        assert!(!has_public_peer(&c), "{name} added public peers");
    }
}

#[test]
fn profile_randomports() {
    let c = fresh().with_profile("randomports").unwrap();
    let swarm = c.swarm_addresses().unwrap();
    assert_eq!(swarm.len(), 2);
    let port = swarm[0].rsplit('/').next().unwrap().to_string();
    assert!(port.parse::<u16>().unwrap() > 0);
    assert_eq!(swarm[0], format!("/ip4/0.0.0.0/tcp/{port}"));
    assert_eq!(swarm[1], format!("/ip6/::/tcp/{port}"));
}

#[test]
fn profile_unixfs_v1_2025_and_back() {
    let mut c = fresh();
    c.apply_profile("unixfs-v1-2025").unwrap();
    let i = c.import().unwrap();
    assert_eq!(i.cid_version, Some(1));
    assert_eq!(i.raw_leaves, Some(true));
    assert_eq!(i.chunker.as_deref(), Some("size-1048576"));
    assert_eq!(i.hash_function, Some(HashAlg::Sha2_256));
    assert_eq!(i.file_max_links, Some(1024));
    assert_eq!(i.directory_max_links, Some(0));
    assert_eq!(i.hamt_max_fanout, Some(256));
    assert_eq!(i.hamt_size_threshold, Some(262_144));
    assert_eq!(i.hamt_size_estimation.as_deref(), Some("block"));
    assert_eq!(i.dag_layout.as_deref(), Some("balanced"));
    assert_eq!(
        c.as_value()["Import"]["UnixFSHAMTDirectorySizeThreshold"],
        json!("256KiB")
    );

    for name in ["unixfs-v0-2015", "legacy-cid-v0"] {
        let c = c.with_profile(name).unwrap();
        let i = c.import().unwrap();
        assert_eq!(i.cid_version, Some(0));
        assert_eq!(i.raw_leaves, Some(false));
        assert_eq!(i.chunker.as_deref(), Some("size-262144"));
        assert_eq!(i.file_max_links, Some(174));
        assert_eq!(i.hamt_size_threshold, Some(262_144));
        assert_eq!(i.hamt_size_estimation.as_deref(), Some("links"));
        assert_eq!(i.effective_cid_version(), 0);
        assert!(!i.effective_raw_leaves());
    }
}

#[test]
fn every_profile_applies_and_validates() {
    for name in profile_names() {
        let c = fresh().with_profile(name).unwrap();
        c.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let err = fresh().apply_profile("flatfs").unwrap_err();
    assert!(err.to_string().contains("is not a profile"), "{err}");
}

#[test]
fn profile_on_non_object_fails_without_change() {
    let mut v = fresh().into_value();
    v["Swarm"] = json!("oops");
    let mut c = Config::from_value(v).unwrap();
    let before = c.clone();
    let err = c.apply_profile("lowpower").unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Profile {
                name: "lowpower",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(c, before);
}

// ---- config KEY [VALUE] -----------------------------------------------------

#[test]
fn get_values_and_human_output() {
    let c = fresh();
    assert_eq!(
        human_output(c.get("Addresses.API").unwrap()),
        "/ip4/127.0.0.1/tcp/5001"
    );
    assert_eq!(
        human_output(c.get("Datastore.StorageGCWatermark").unwrap()),
        "90"
    );
    assert_eq!(human_output(c.get("Import.CidVersion").unwrap()), "null");
    let pretty = human_output(c.get("Discovery").unwrap());
    assert_eq!(pretty, "{\n  \"MDNS\": {\n    \"Enabled\": true\n  }\n}");
    assert_eq!(human_output(&json!("a\n")), "a");
    assert_eq!(
        c.get("Identity.PeerID").unwrap(),
        &json!(c.peer_id().unwrap())
    );
}

#[test]
fn get_errors() {
    let c = fresh();
    let err = c.get("Addresses.Nope").unwrap_err();
    assert!(matches!(err, ConfigError::KeyNotFound { .. }));
    assert_eq!(
        err.to_string(),
        "failed to get config value: key \"Addresses.Nope\" not found"
    );
    assert!(c.get("Nope").is_err());

    let err = c.get("Addresses.API.Foo").unwrap_err();
    assert!(
        matches!(&err, ConfigError::NotAMap { parent, .. } if parent == "Addresses.API"),
        "{err:?}"
    );

    assert!(matches!(
        c.get("Addresses..API"),
        Err(ConfigError::InvalidKey { .. })
    ));
    assert!(matches!(c.get(""), Err(ConfigError::InvalidKey { .. })));
}

#[test]
fn secrets_are_not_shown_or_changed_by_config() {
    let mut c = fresh();
    for key in ["Identity", "Identity.PrivKey", "identity.privkey"] {
        assert!(
            matches!(c.get(key), Err(ConfigError::Protected(_))),
            "{key}"
        );
        assert!(
            matches!(c.set(key, json!("x")), Err(ConfigError::Protected(_))),
            "{key}"
        );
    }
    assert!(matches!(c.get("Pinning"), Err(ConfigError::Protected(_))));
    assert!(matches!(
        c.set("Pinning.RemoteServices.svc.API.Key", json!("k")),
        Err(ConfigError::Protected(_))
    ));
    assert_eq!(c.identity().unwrap(), fresh_identity_of(&c));
}

fn fresh_identity_of(c: &Config) -> Identity {
    Identity {
        peer_id: c.as_value()["Identity"]["PeerID"].as_str().unwrap().into(),
        private_key: c.as_value()["Identity"]["PrivKey"].as_str().unwrap().into(),
    }
}

#[test]
fn peer_id_can_only_be_set_to_its_own_value() {
    let mut c = fresh();
    let own = c.peer_id().unwrap();
    c.set("Identity.PeerID", json!(own)).unwrap();
    let other = Identity::generate().peer_id;
    assert!(matches!(
        c.set("Identity.PeerID", json!(other)),
        Err(ConfigError::Protected(_))
    ));
    assert!(c.set("Identity.PeerID", json!("garbage")).is_err());
    assert_eq!(c.peer_id().unwrap(), own);
}

#[test]
fn set_string_json_and_bool() {
    let mut c = fresh();

    // String by default.
    let v = Config::parse_cli_value("/ip4/127.0.0.1/tcp/5002", ValueMode::String).unwrap();
    c.set("Addresses.API", v).unwrap();
    assert_eq!(
        c.api_addresses().unwrap(),
        strs(&["/ip4/127.0.0.1/tcp/5002"])
    );

    // A number given as a string is refused for a numeric key, with Kubo's hint.
    let v = Config::parse_cli_value("50", ValueMode::String).unwrap();
    let err = c.set("Swarm.ConnMgr.HighWater", v).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("failed to set config value: Swarm.ConnMgr.HighWater:"),
        "{msg}"
    );
    assert!(msg.ends_with("(maybe use --json?)"), "{msg}");
    assert!(
        c.lookup("Swarm.ConnMgr.HighWater").unwrap().is_none(),
        "nothing changed"
    );

    // --json.
    let v = Config::parse_cli_value("50", ValueMode::Json).unwrap();
    c.set("Swarm.ConnMgr.HighWater", v).unwrap();
    assert_eq!(c.swarm().unwrap().conn_mgr.high_water, 50);
    let v =
        Config::parse_cli_value(r#"["/dns4/a.example.com/tcp/4001"]"#, ValueMode::Json).unwrap();
    c.set("Addresses.AppendAnnounce", v).unwrap();
    assert_eq!(
        c.addresses().unwrap().append_announce,
        strs(&["/dns4/a.example.com/tcp/4001"])
    );
    let err = Config::parse_cli_value("{nope", ValueMode::Json).unwrap_err();
    assert!(
        err.to_string().starts_with("failed to unmarshal json."),
        "{err}"
    );

    // --bool.
    let v = Config::parse_cli_value("false", ValueMode::Bool).unwrap();
    c.set("Discovery.MDNS.Enabled", v).unwrap();
    assert!(!c.mdns_enabled().unwrap());
    assert_eq!(c.get("Discovery.MDNS.Enabled").unwrap(), &json!(false));
    let v = Config::parse_cli_value("true", ValueMode::Bool).unwrap();
    c.set("Swarm.DisableNatPortMap", v).unwrap();
    assert!(c.swarm().unwrap().disable_nat_port_map);
    assert!(Config::parse_cli_value("yes", ValueMode::Bool).is_err());

    // Range checks on values Ferrite reads.
    assert!(c.set("Import.CidVersion", json!(2)).is_err());
    assert!(c.set("Import.UnixFSChunker", json!("size-0")).is_err());
    assert!(c.set("Import.HashFunction", json!("md5")).is_err());
    assert!(c
        .set("Import.UnixFSHAMTDirectoryMaxFanout", json!(100))
        .is_err());
    assert!(c.set("Datastore.StorageMax", json!("ten gigs")).is_err());
    assert!(c.set("Datastore.GCPeriod", json!("1 day")).is_err());
    let err = c.set("Routing.Type", json!("dhtclinet")).unwrap_err();
    assert!(
        !err.to_string().contains("--json"),
        "no hint for a bad name: {err}"
    );
    let err = c
        .set("Bootstrap", json!("/ip4/10.0.0.1/tcp/4001"))
        .unwrap_err();
    assert!(err.to_string().ends_with("(maybe use --json?)"), "{err}");
    assert!(c.set("Bootstrap", json!(["auto"])).is_err());
    c.set("Import.HashFunction", json!("BLAKE3")).unwrap();
    assert_eq!(c.import().unwrap().hash_function, Some(HashAlg::Blake3));
    let i = c.import().unwrap();
    assert_eq!(
        (i.effective_cid_version(), i.effective_raw_leaves()),
        (1, true)
    );
    c.set("Routing.Type", json!("none")).unwrap();
    assert_eq!(c.routing_type().unwrap(), "none");
}

#[test]
fn set_creates_missing_parents_and_keeps_order() {
    let mut c = fresh();
    c.set("Foo.Bar.Baz", json!("x")).unwrap();
    assert_eq!(c.get("Foo.Bar.Baz").unwrap(), &json!("x"));
    assert_eq!(c.get("Foo").unwrap(), &json!({"Bar": {"Baz": "x"}}));

    // A null parent is replaced by an object, as in Kubo.
    c.set("Peering.Peers", Value::Null).unwrap();
    c.set("Swarm.ResourceMgr.Limits.X", json!(1)).unwrap();
    c.set("Swarm.AddrFilters.Sub", json!(1)).unwrap_err();

    // A non-object parent is refused and nothing changes.
    let before = c.clone();
    let err = c.set("Addresses.API.Sub", json!(1)).unwrap_err();
    assert!(err.to_string().contains("is not a map"), "{err}");
    assert_eq!(c, before);

    // Overwriting keeps the key where it was.
    let keys_before: Vec<String> = c.as_value().as_object().unwrap().keys().cloned().collect();
    c.set(
        "Bootstrap",
        json!(["/ip4/10.1.1.1/tcp/4001/p2p/12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8"]),
    )
    .unwrap();
    let keys_after: Vec<String> = c.as_value().as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys_before, keys_after);
}

#[test]
fn typed_values_accept_kubo_forms() {
    let mut c = fresh();
    c.set(
        "Addresses.API",
        json!(["/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/tcp/2"]),
    )
    .unwrap();
    assert_eq!(c.api_addresses().unwrap().len(), 2);
    c.set("Addresses.Gateway", json!("")).unwrap();
    assert!(c.gateway_addresses().unwrap().is_empty());
    c.set("Import.UnixFSHAMTDirectorySizeThreshold", json!(1000))
        .unwrap();
    assert_eq!(c.import().unwrap().hamt_size_threshold, Some(1000));
    c.set("Import.UnixFSHAMTDirectorySizeThreshold", json!("1MiB"))
        .unwrap();
    assert_eq!(c.import().unwrap().hamt_size_threshold, Some(1 << 20));
    c.set("Swarm.ConnMgr.GracePeriod", json!("1m30s")).unwrap();
    assert_eq!(
        c.swarm().unwrap().conn_mgr.grace_period,
        Duration::from_secs(90)
    );
    c.set("Swarm.ConnMgr.GracePeriod", json!("default"))
        .unwrap();
    assert_eq!(
        c.swarm().unwrap().conn_mgr.grace_period,
        Duration::from_secs(20)
    );
    c.set(
        "API.HTTPHeaders",
        json!({"Access-Control-Allow-Origin": ["*"]}),
    )
    .unwrap();
    assert_eq!(
        c.api_http_headers().unwrap(),
        vec![("Access-Control-Allow-Origin".to_string(), strs(&["*"]))]
    );
    c.set("Gateway.NoFetch", json!(true)).unwrap();
    let g = c.gateway().unwrap();
    assert!(g.no_fetch && g.deserialized_responses);
    c.set(
        "Peering.Peers",
        json!([{"ID": "12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8", "Addrs": ["/ip4/10.0.0.2/tcp/4001"]}]),
    )
    .unwrap();
    let p = c.peering_peers().unwrap();
    assert_eq!(p[0].addrs, strs(&["/ip4/10.0.0.2/tcp/4001"]));
    assert!(c.set("Peering.Peers", json!([{"Addrs": []}])).is_err());
    c.set("Reprovider.Strategy", json!("pinned")).unwrap();
    assert_eq!(c.reprovider().unwrap().strategy, "pinned");
    c.set("Provide.Strategy", json!("roots")).unwrap();
    assert_eq!(c.reprovider().unwrap().strategy, "roots");
}

#[test]
fn storage_max_parsing() {
    let mut c = fresh();
    for (s, n) in [
        ("10GB", 10_000_000_000u64),
        ("10GiB", 10 << 30),
        ("500MB", 500_000_000),
        ("1.5TB", 1_500_000_000_000),
        ("1024", 1024),
        ("2 tib", 2 << 40),
    ] {
        c.set("Datastore.StorageMax", json!(s)).unwrap();
        assert_eq!(c.storage_max().unwrap(), n, "{s}");
    }
    // Empty means Kubo's default.
    c.set("Datastore.StorageMax", json!("")).unwrap();
    assert_eq!(c.storage_max().unwrap(), 10_000_000_000);
    let err = c.set("Datastore.StorageMax", json!("10XB")).unwrap_err();
    assert!(err.to_string().contains("Datastore.StorageMax"), "{err}");
}

#[test]
fn show_hides_secrets() {
    let mut c = fresh();
    let key = c.identity().unwrap().private_key;
    let mut v = c.clone().into_value();
    v["API"]["Authorizations"] =
        json!({"alice": {"AuthSecret": "bearer:s3cret", "AllowedPaths": ["/api/v0"]}});
    v["Pinning"]["RemoteServices"] = json!({"svc": {"API": {"Endpoint": "https://pin.example", "Key": "apikey"}, "Policies": {}}});
    c = Config::from_value(v).unwrap();

    let shown = c.show();
    let text = serde_json::to_string(&shown).unwrap();
    assert!(shown["Identity"].get("PrivKey").is_none());
    assert_eq!(shown["Identity"]["PeerID"], json!(c.peer_id().unwrap()));
    assert!(!text.contains(&key));
    assert!(
        !text.contains("s3cret") && !text.contains("apikey"),
        "{text}"
    );
    assert_eq!(shown["API"]["Authorizations"], json!({}));
    assert_eq!(
        shown["Pinning"]["RemoteServices"]["svc"]["API"]["Endpoint"],
        json!("https://pin.example")
    );
    // The config itself still has everything.
    assert_eq!(c.identity().unwrap().private_key, key);
}

// ---- replace ------------------------------------------------------------------

#[test]
fn replace_keeps_private_key_and_secrets() {
    let mut c = fresh();
    let id = c.identity().unwrap();
    let mut v = c.clone().into_value();
    v["API"]["Authorizations"] =
        json!({"alice": {"AuthSecret": "bearer:s3cret", "AllowedPaths": []}});
    v["Pinning"]["RemoteServices"] =
        json!({"svc": {"API": {"Endpoint": "https://pin.example", "Key": "apikey"}}});
    c = Config::from_value(v).unwrap();

    // show → edit → replace round-trips the secrets.
    let mut edited = c.show();
    edited["Datastore"]["StorageMax"] = json!("20GB");
    edited["Identity"]["PeerID"] = json!(Identity::generate().peer_id); // ignored, re-derived
    edited["SomethingKuboAdded"] = json!({"x": 1});
    c.replace(edited).unwrap();
    assert_eq!(c.identity().unwrap(), id);
    assert_eq!(c.storage_max().unwrap(), 20_000_000_000);
    assert_eq!(c.lookup("SomethingKuboAdded.x").unwrap(), Some(&json!(1)));
    assert_eq!(
        c.as_value()["API"]["Authorizations"]["alice"]["AuthSecret"],
        json!("bearer:s3cret")
    );
    assert_eq!(
        c.as_value()["Pinning"]["RemoteServices"]["svc"]["API"]["Key"],
        json!("apikey")
    );

    // A file without any Identity gets the current one.
    let mut bare = c.show();
    bare.as_object_mut().unwrap().shift_remove("Identity");
    c.replace(bare).unwrap();
    assert_eq!(c.identity().unwrap(), id);

    // The same key is accepted; a different one is refused.
    let mut same = c.clone().into_value();
    same["Bootstrap"] = json!([]);
    c.replace(same).unwrap();
    let mut other = c.clone().into_value();
    other["Identity"]["PrivKey"] = json!(Identity::generate().private_key);
    assert!(matches!(c.replace(other), Err(ConfigError::Protected(_))));
    assert_eq!(c.identity().unwrap(), id);
}

#[test]
fn replace_validates() {
    let mut c = fresh();
    let before = c.clone();
    assert!(matches!(
        c.replace(json!([1, 2])),
        Err(ConfigError::NotAnObject { .. })
    ));
    let mut bad = c.show();
    bad["Import"]["CidVersion"] = json!("1");
    let err = c.replace(bad).unwrap_err();
    assert!(err.to_string().contains("Import.CidVersion"), "{err}");
    let mut kubo = c.show();
    kubo["Bootstrap"] = json!(["auto"]);
    assert!(c.replace(kubo).is_err());
    assert_eq!(c, before);
}

// ---- files --------------------------------------------------------------------

#[test]
fn save_load_round_trip_keeps_unknown_keys_and_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    let mut v = fresh().into_value();
    v["ZetaUnknown"] = json!({"nested": [1, 2.5, "three", null, {"deep": true}]});
    v["Swarm"]["SomeFutureKuboKey"] = json!({"b": 1, "a": 2});
    v["Datastore"]["Spec"] =
        json!({"type": "mount", "mounts": [{"mountpoint": "/blocks", "type": "flatfs"}]});
    let c = Config::from_value(v.clone()).unwrap();
    c.save(&path).unwrap();

    let loaded = Config::load(&path).unwrap();
    assert_eq!(loaded, c);
    assert_eq!(loaded.as_value(), &v);
    let keys: Vec<&String> = loaded.as_value()["Swarm"]["SomeFutureKuboKey"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, ["b", "a"]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), c.to_json_string());

    // Load → save of a hand-written file keeps every key and its order.
    let hand = r#"{"Zed": 1, "Identity": {"PeerID": "x", "PrivKey": "eA=="}, "Alpha": {"Z": [], "A": null}}"#;
    std::fs::write(&path, hand).unwrap();
    let c = Config::load(&path).unwrap();
    c.save(&path).unwrap();
    let back: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(back, serde_json::from_str::<Value>(hand).unwrap());
    let keys: Vec<&String> = back.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["Zed", "Identity", "Alpha"]);
}

/// A user's extra keys, top-level and inside sections Ferrite reads, survive
/// a read → modify (set, profile, replace) → write cycle in place.
#[test]
fn read_modify_write_keeps_extra_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    let mut v = fresh().into_value();
    v["MyTool"] = json!({"Token": "abc", "Order": [3, 1, 2]});
    v["Swarm"]["ConnMgr"]["MyHint"] = json!("keep me");
    v["Datastore"]["MyQuota"] = json!(42);
    Config::from_value(v).unwrap().save(&path).unwrap();

    let mut c = Config::load(&path).unwrap();
    c.set("Swarm.ConnMgr.HighWater", json!(200)).unwrap();
    c.set("Datastore.StorageMax", json!("20GB")).unwrap();
    c.apply_profile("server").unwrap();
    c.save(&path).unwrap();
    let c = Config::load(&path).unwrap();
    let doc = c.as_value();
    assert_eq!(doc["MyTool"], json!({"Token": "abc", "Order": [3, 1, 2]}));
    assert_eq!(doc["Swarm"]["ConnMgr"]["MyHint"], json!("keep me"));
    assert_eq!(doc["Swarm"]["ConnMgr"]["HighWater"], json!(200));
    assert_eq!(doc["Datastore"]["MyQuota"], json!(42));
    assert_eq!(doc["Datastore"]["StorageMax"], json!("20GB"));
    let ds: Vec<&String> = doc["Datastore"].as_object().unwrap().keys().collect();
    assert_eq!(ds.last().map(|k| k.as_str()), Some("MyQuota"));

    // `config show | edit | config replace` keeps them too.
    let mut shown = c.show();
    shown["Gateway"]["MyGatewayKey"] = json!(true);
    let mut replaced = c.clone();
    replaced.replace(shown).unwrap();
    assert_eq!(replaced.as_value()["MyTool"], doc["MyTool"]);
    assert_eq!(replaced.as_value()["Gateway"]["MyGatewayKey"], json!(true));
    assert_eq!(
        replaced.as_value()["Swarm"]["ConnMgr"]["MyHint"],
        json!("keep me")
    );
}

#[test]
fn save_is_atomic_and_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    let c = fresh();
    c.save(&path).unwrap();
    std::fs::write(dir.path().join("other"), "x").unwrap();
    // Overwrite an existing file.
    let c2 = c.with_profile("test").unwrap();
    c2.save(&path).unwrap();
    assert_eq!(Config::load(&path).unwrap(), c2);

    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["config", "other"], "no temporary file left behind");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Creates missing folders.
    let nested = dir.path().join("a/b/config");
    c.save(&nested).unwrap();
    assert_eq!(Config::load(&nested).unwrap(), c);

    // A failed save leaves the old file and no temporary file.
    let blocker = dir.path().join("adir");
    std::fs::create_dir(&blocker).unwrap();
    std::fs::write(blocker.join("inside"), "x").unwrap();
    let err = c.save(&blocker).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Io {
                action: "write",
                ..
            }
        ),
        "{err:?}"
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a", "adir", "config", "other"]);
}

#[test]
fn load_errors_name_the_file_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");

    let err = Config::load(&path).unwrap_err();
    assert!(matches!(err, ConfigError::NotFound { .. }));
    assert!(err.to_string().contains(&path.display().to_string()));

    std::fs::write(
        &path,
        "{\n  \"Identity\": {\n    \"PeerID\": \"x\",\n  }\n}",
    )
    .unwrap();
    let err = Config::load(&path).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("line 4 column 3"), "{msg}");
    match err {
        ConfigError::Syntax { cause, .. } => assert_eq!((cause.line(), cause.column()), (4, 3)),
        other => panic!("unexpected {other:?}"),
    }

    std::fs::write(&path, "[1]").unwrap();
    let err = Config::load(&path).unwrap_err();
    assert!(matches!(err, ConfigError::NotAnObject { .. }));
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );

    // A wrong value does not stop loading (so it can be fixed with
    // `config KEY VALUE`), but validation and the getter report it.
    let mut v = fresh().into_value();
    v["Swarm"]["ConnMgr"]["HighWater"] = json!("lots");
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    let mut c = Config::load(&path).unwrap();
    let err = c.validate().unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Swarm.ConnMgr.HighWater: expected"),
        "{err}"
    );
    assert!(c.swarm().is_err());
    c.set("Swarm.ConnMgr.HighWater", json!(100)).unwrap();
    c.validate().unwrap();
}

#[test]
fn identity_from_existing_kubo_style_key() {
    // A key encoded as Kubo stores it decodes to the same peer ID.
    let kp = Keypair::generate_ed25519();
    let id = Identity::from_keypair(&kp).unwrap();
    let peer: PeerId = id.peer_id.parse().unwrap();
    assert_eq!(peer, kp.public().to_peer_id());
    assert_eq!(
        id.private_key_bytes().unwrap(),
        kp.to_protobuf_encoding().unwrap()
    );
    assert_eq!(id.keypair().unwrap().public(), kp.public());

    let broken = Identity {
        peer_id: id.peer_id.clone(),
        private_key: "not base64!".into(),
    };
    assert!(matches!(
        broken.private_key_bytes(),
        Err(ConfigError::Identity(_))
    ));
}

/// Whether any of Kubo's public bootstrap peers is in the config.
fn has_public_peer(c: &Config) -> bool {
    let json = c.to_json_string();
    PUBLIC_BOOTSTRAP_PEERS.iter().any(|p| json.contains(p))
}

// ---- what a daemon needs (issue 14, item 6) --------------------------------

#[test]
fn replace_refuses_a_config_a_daemon_cannot_run() {
    let mut c = fresh();
    let before = c.clone();
    // `{}` keeps the identity (Kubo's rule) but has no API address.
    let err = c.replace(json!({})).unwrap_err().to_string();
    assert!(
        err.starts_with("Addresses.API: no RPC API address"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
    assert_eq!(c, before);
    for (key, bad) in [
        ("Addresses.API", json!("5")),
        ("Addresses.API", json!("/dns4/localhost/tcp/5001")),
        ("Addresses.Gateway", json!("/ip4/127.0.0.1/udp/8080")),
        ("Addresses.Swarm", json!(["/ip4/0.0.0.0/tcp/4001", "nope"])),
    ] {
        let mut doc = c.show();
        let (section, field) = key.split_once('.').unwrap();
        doc[section][field] = bad;
        let err = c.replace(doc).unwrap_err().to_string();
        assert!(err.starts_with(key), "{key}: {err}");
        assert_eq!(c, before);
    }
    // The smallest runnable replacement: an API address; the identity stays.
    c.replace(json!({"Addresses": {"API": "/ip4/127.0.0.1/tcp/5001"}}))
        .unwrap();
    assert_eq!(c.peer_id().unwrap(), before.peer_id().unwrap());
    c.validate_runnable().unwrap();
}

#[test]
fn set_refuses_values_that_break_the_config() {
    let mut c = fresh();
    let before = c.clone();
    for (key, value, named) in [
        ("Addresses.API", json!("5"), "Addresses.API[0]"),
        ("Addresses.API", json!([]), "Addresses.API"),
        ("Addresses.API", Value::Null, "Addresses.API"),
        ("Addresses", json!({}), "Addresses.API"),
        (
            "Addresses.Swarm",
            json!(["not/a/multiaddr"]),
            "Addresses.Swarm[0]",
        ),
        (
            "Swarm.ConnMgr.HighWater",
            json!("lots"),
            "Swarm.ConnMgr.HighWater",
        ),
        ("Identity.PrivKey", json!(""), "private key"),
    ] {
        let err = c.set(key, value).unwrap_err().to_string();
        assert!(err.contains(named), "{key}: {err}");
        assert!(!err.contains('\n'), "{key}: {err}");
        assert_eq!(c, before, "{key}");
    }
}

#[test]
fn validate_checks_the_identity_matches_its_key() {
    let mut doc = fresh().into_value();
    let other = Identity::generate();
    doc["Identity"]["PeerID"] = json!(other.peer_id);
    let c = Config::from_value(doc.clone()).unwrap();
    let err = c.validate().unwrap_err().to_string();
    assert!(err.contains("Identity.PeerID"), "{err}");
    doc["Identity"] = json!({"PeerID": other.peer_id});
    let err = Config::from_value(doc).unwrap().validate().unwrap_err();
    assert!(err.to_string().contains("Identity.PrivKey"), "{err}");
}

#[test]
fn a_broken_config_loads_and_can_be_repaired_key_by_key() {
    // No API address and a bad value: loading works, and edits that do
    // not add new breakage are allowed, so the config can be repaired.
    let mut doc = fresh().into_value();
    doc["Addresses"]["API"] = json!([]);
    doc["Import"]["CidVersion"] = json!(7);
    let mut c = Config::from_value(doc).unwrap();
    assert!(c.validate_runnable().is_err());
    c.set("Datastore.StorageMax", json!("20GB")).unwrap();
    c.apply_profile("server").unwrap();
    c.set("Import.CidVersion", json!(1)).unwrap();
    c.set("Addresses.API", json!("/ip4/127.0.0.1/tcp/5001"))
        .unwrap();
    c.validate_runnable().unwrap();
    // and once repaired, it cannot be broken again
    let before = c.clone();
    assert!(c.set("Addresses.API", json!([])).is_err());
    assert_eq!(c, before);
}

/// A number with more digits than an f64 holds reads as the nearest f64,
/// and saving then loading keeps it (serde_json's default float parser is
/// not correctly rounded on long inputs; the config fuzz target found
/// `"ResolveCacheSize": 5555…5128` changing through save,
/// fuzz/regressions/config/float-long-decimal).
#[test]
fn long_decimals_survive_save_and_load() {
    let long = format!("{}128", "5".repeat(101));
    let text = format!(
        r#"{{"Ipns": {{"ResolveCacheSize": {long}}}, "Other": 0.1000000000000000055511151231257827}}"#
    );
    let src = std::path::Path::new("config");
    let cfg = ferrite_config::Config::from_json_str(&text, src).unwrap();
    let again = ferrite_config::Config::from_json_str(&cfg.to_json_string(), src).unwrap();
    assert_eq!(again.as_value(), cfg.as_value());
    let v = cfg.as_value()["Ipns"]["ResolveCacheSize"].as_f64().unwrap();
    assert_eq!(v, long.parse::<f64>().unwrap());
}
