//! `ferrite init`.

use ferrite_store::config::Config;
use ferrite_store::Repo;
use std::path::Path;

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
}

/// Creates a repo, like `ipfs init`.
pub fn run(repo: &Path, a: Args) -> anyhow::Result<()> {
    if Repo::is_initialized(repo) {
        anyhow::bail!(
            "ferrite configuration file already exists at {}: reinitializing would overwrite your keys",
            repo.display()
        );
    }
    eprint!("generating ED25519 keypair...");
    let config = Config::init(&a.profiles)?;
    eprintln!("done");
    println!("peer identity: {}", config.peer_id()?);
    println!("initializing ferrite node at {}", repo.display());
    Repo::init(repo, &config)?;
    let _ = a.empty_repo;
    Ok(())
}
