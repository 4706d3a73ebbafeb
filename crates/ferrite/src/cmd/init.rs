//! `ferrite init`.

use ferrite_config::{Config, Identity};
use ferrite_node::Node;
use std::path::{Path, PathBuf};

/// Arguments of `init`.
#[derive(clap::Args)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite init\n",
    "  ferrite init --profile server\n",
    "  ferrite init --swarm-key swarm.key --bootstrap /ip4/10.0.0.1/tcp/4001/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp",
))]
pub(crate) struct Args {
    /// Configuration profiles to apply, comma separated (e.g. `test`,
    /// `server`, `lowpower`, `unixfs-v1-2025`).
    #[arg(short = 'p', long = "profile", value_delimiter = ',')]
    profiles: Vec<String>,
    /// Accepted for Kubo compatibility: ferrite never adds example files.
    #[arg(short = 'e', long = "empty-repo")]
    empty_repo: bool,
    /// Join a private network: copy this swarm key file (as made by
    /// `ferrite swarm key gen` or ipfs-swarm-key-gen) to <repo>/swarm.key.
    #[arg(long = "swarm-key", value_name = "FILE")]
    swarm_key: Option<PathBuf>,
    /// Set `Bootstrap` to exactly these peers (multiaddrs ending in
    /// /p2p/<peer ID>); repeatable.
    #[arg(long = "bootstrap", value_name = "MULTIADDR")]
    bootstrap: Vec<String>,
    /// Key type of the new identity: ed25519 (default), secp256k1 or ecdsa.
    /// (RSA identities can be imported with --identity-file.)
    #[arg(short = 'a', long = "algorithm", default_value = "ed25519")]
    algorithm: String,
    /// Use this private key as the node's identity instead of generating
    /// one: a libp2p protobuf-encoded private key of any type (Ed25519,
    /// RSA, secp256k1, ECDSA), raw or base64 (as in a Kubo config's
    /// Identity.PrivKey).
    #[arg(
        long = "identity-file",
        value_name = "FILE",
        conflicts_with = "algorithm"
    )]
    identity_file: Option<PathBuf>,
}

impl Args {
    /// `init --profile … [--swarm-key FILE]`, for `service install`.
    pub(crate) fn with(profiles: Vec<String>, swarm_key: Option<PathBuf>) -> Args {
        Args {
            profiles,
            empty_repo: false,
            swarm_key,
            bootstrap: Vec::new(),
            algorithm: "ed25519".into(),
            identity_file: None,
        }
    }
}

/// The identity `init` gives the node.
fn identity(a: &Args) -> anyhow::Result<Identity> {
    use base64::Engine;
    use libp2p_identity::Keypair;
    if let Some(f) = &a.identity_file {
        let raw = std::fs::read(f)
            .map_err(|e| anyhow::anyhow!("cannot read identity file {}: {e}", f.display()))?;
        // The key is stored as given: libp2p decodes RSA keys but cannot
        // encode them again.
        let stored = |bytes: &[u8], k: Keypair| Identity {
            peer_id: k.public().to_peer_id().to_base58(),
            private_key: base64::engine::general_purpose::STANDARD.encode(bytes),
        };
        let bytes = match Keypair::from_protobuf_encoding(&raw) {
            Ok(k) => return Ok(stored(&raw, k)),
            Err(_) => {
                use base64::Engine;
                let text = String::from_utf8_lossy(&raw);
                base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "{}: not a protobuf-encoded private key, raw or base64",
                            f.display()
                        )
                    })?
            }
        };
        let k = Keypair::from_protobuf_encoding(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: not a usable private key: {e}", f.display()))?;
        return Ok(stored(&bytes, k));
    }
    let generate: fn() -> Keypair = match a.algorithm.to_ascii_lowercase().as_str() {
        "ed25519" => Keypair::generate_ed25519,
        "secp256k1" => Keypair::generate_secp256k1,
        "ecdsa" => Keypair::generate_ecdsa,
        "rsa" => anyhow::bail!(
            "generating RSA keys is not supported; import an RSA key with --identity-file"
        ),
        other => {
            anyhow::bail!("unknown key algorithm {other:?} (expected ed25519, secp256k1 or ecdsa)")
        }
    };
    eprint!("generating {} keypair...", a.algorithm.to_uppercase());
    let k = generate();
    eprintln!("done");
    Ok(Identity::from_keypair(&k)?)
}

/// Creates a repo, like `ipfs init`.
pub(crate) fn run(repo: &Path, a: Args) -> anyhow::Result<()> {
    if Node::is_initialized(repo) {
        anyhow::bail!(
            "ferrite configuration file already exists at {}: reinitializing would overwrite your keys",
            repo.display()
        );
    }
    // Everything given is checked before anything is written.
    let swarm_key = match &a.swarm_key {
        Some(f) => Some(super::swarm::read_key(f)?),
        None => None,
    };
    ferrite_config::bootstrap::validate(&a.bootstrap)?;
    let mut config = Config::init_with_identity(&identity(&a)?, &a.profiles)?;
    if !a.bootstrap.is_empty() {
        ferrite_config::bootstrap::set(&mut config, &a.bootstrap)?;
    }
    println!("peer identity: {}", config.peer_id()?);
    println!("initializing ferrite node at {}", repo.display());
    match &swarm_key {
        None => Node::init(repo, &config)?,
        Some(key) => {
            // The key goes in first: the repo is complete (its version file
            // written) only with it, and a failed init takes it away again.
            let created = !repo.exists();
            let key_path = repo.join("swarm.key");
            let written = std::fs::create_dir_all(repo)
                .map_err(anyhow::Error::from)
                .and_then(|()| {
                    super::swarm::write_secret(
                        &key_path,
                        format!("{}\n", key.to_file_contents()).as_bytes(),
                        true,
                    )
                })
                .and_then(|()| Ok(Node::init(repo, &config)?));
            if let Err(e) = written {
                let _ = std::fs::remove_file(&key_path);
                if created {
                    let _ = std::fs::remove_dir(repo);
                }
                return Err(e);
            }
            println!("Swarm is limited to private network of peers with the swarm key");
            println!("Swarm key fingerprint: {}", key.fingerprint());
        }
    }
    let _ = a.empty_repo;
    Ok(())
}
