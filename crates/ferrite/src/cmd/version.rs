//! `ferrite version`.

/// Arguments of `version`.
#[derive(clap::Args)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite version\n",
    "  ferrite version -n\n",
    "  ferrite version --all",
))]
pub(crate) struct Args {
    /// Only print the version number.
    #[arg(short = 'n', long)]
    number: bool,
    /// Print all version details.
    #[arg(long)]
    all: bool,
}

/// Prints the version like `ipfs version`.
pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let v = env!("CARGO_PKG_VERSION");
    if a.number {
        println!("{v}");
    } else if a.all {
        println!("ferrite version: {v}");
        println!("Repo version: {}", ferrite_node::REPO_VERSION);
        println!(
            "System version: {}/{}",
            std::env::consts::ARCH,
            std::env::consts::OS
        );
    } else {
        println!("ferrite version {v}");
    }
    Ok(())
}
