//! `ferrite init`.

use ferrite_store::config::Config;
use ferrite_store::Repo;
use std::path::{Path, PathBuf};

/// Arguments of `init`.
#[derive(clap::Args)]
pub struct Args {
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
}

/// Creates a repo, like `ipfs init`.
pub fn run(repo: &Path, a: Args) -> anyhow::Result<()> {
    if Repo::is_initialized(repo) {
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
    ferrite_store::bootstrap::validate(&a.bootstrap)?;
    eprint!("generating ED25519 keypair...");
    let mut config = Config::init(&a.profiles)?;
    eprintln!("done");
    if !a.bootstrap.is_empty() {
        ferrite_store::bootstrap::set(&mut config, &a.bootstrap)?;
    }
    println!("peer identity: {}", config.peer_id()?);
    println!("initializing ferrite node at {}", repo.display());
    match &swarm_key {
        None => Repo::init(repo, &config)?,
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
                .and_then(|()| Ok(Repo::init(repo, &config)?));
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
