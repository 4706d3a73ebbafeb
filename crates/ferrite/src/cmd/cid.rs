//! `ferrite cid format|base32|bases|codecs|hashes`.

use clap::Subcommand;
use ferrite_ipld::cidfmt::{CidFormatter, FormatError, IPLD_CODECS, MULTIBASES};
use ferrite_ipld::HashAlg;
use std::io::Write;

/// `cid` subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Format and convert CIDs.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite cid format -v 1 -b base32 QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
        "  ferrite cid format -f %P bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
    ))]
    Format {
        /// CIDs to format.
        #[arg(required = true)]
        cids: Vec<String>,
        /// Printf-style format: %s %S %b %B %v %V %c %C %h %H %L %m %M %d %D %P.
        #[arg(short = 'f', default_value = "%s")]
        format: String,
        /// CID version to convert to.
        #[arg(short = 'v')]
        version: Option<String>,
        /// Multicodec to set.
        #[arg(long = "mc")]
        codec: Option<String>,
        /// Multibase to display in.
        #[arg(short = 'b')]
        base: Option<String>,
    },
    /// Convert CIDs to base32 CIDv1.
    #[command(
        after_help = "Examples:\n  ferrite cid base32 QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
    )]
    Base32 {
        /// CIDs to convert.
        #[arg(required = true)]
        cids: Vec<String>,
    },
    /// List multibase encodings.
    #[command(after_help = "Examples:\n  ferrite cid bases")]
    Bases,
    /// List IPLD codecs.
    #[command(after_help = "Examples:\n  ferrite cid codecs")]
    Codecs,
    /// List supported hash functions.
    #[command(after_help = "Examples:\n  ferrite cid hashes")]
    Hashes,
}

/// Runs a `cid` subcommand.
pub(crate) fn run(c: Command) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let (formatter, cids) = match c {
        Command::Format {
            cids,
            format,
            version,
            codec,
            base,
        } => (
            CidFormatter::new(
                Some(&format),
                version.as_deref(),
                codec.as_deref(),
                base.as_deref(),
            )?,
            cids,
        ),
        Command::Base32 { cids } => (CidFormatter::base32(), cids),
        Command::Bases => {
            for (prefix, name, _) in MULTIBASES {
                let p = if prefix == '\0' { ' ' } else { prefix };
                writeln!(out, "{p}  {name}")?;
            }
            return Ok(());
        }
        Command::Codecs => {
            for (code, name) in IPLD_CODECS {
                writeln!(out, "{code:5}  {name}")?;
            }
            return Ok(());
        }
        Command::Hashes => {
            for h in HashAlg::ALL {
                writeln!(out, "{:5}  {}", h.code(), h.name())?;
            }
            return Ok(());
        }
    };
    let mut failed = false;
    for c in &cids {
        match formatter.format(c) {
            Ok(s) => writeln!(out, "{s}")?,
            Err(FormatError::Cid(msg)) => {
                failed = true;
                writeln!(out, "{c}: {msg}")?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    if failed {
        anyhow::bail!("some CIDs could not be converted");
    }
    Ok(())
}
