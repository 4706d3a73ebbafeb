//! `cid format|base32|bases|codecs|hashes`, with Kubo's shapes:
//! `{"CidStr","Formatted","ErrorMsg"}` lines and `[{"Code","Name"}]` lists.
//! They need neither repo nor network.

use crate::command::{required, route, Command, Ctx, Emit, Encoding, Needs};
use crate::rpc::ApiError;
use ferrite_ipld::cidfmt::{CidFormatter, FormatError, IPLD_CODECS, MULTIBASES};
use ferrite_ipld::HashAlg;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// The commands of this module.
pub(super) const COMMANDS: &[super::Route] = &[
    route::<Format>(),
    route::<Base32>(),
    route::<Bases>(),
    route::<Codecs>(),
    route::<Hashes>(),
];

/// Format and convert CIDs.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite cid format -v 1 -b base32 QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n",
    "  ferrite cid format -f %P bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
))]
pub struct Format {
    /// CIDs to format.
    #[arg(required = true)]
    #[serde(rename = "arg", default)]
    pub cids: Vec<String>,
    /// Printf-style format: %s %S %b %B %v %V %c %C %h %H %L %m %M %d %D %P.
    #[arg(short = 'f', default_value = "%s")]
    #[serde(rename = "f", default = "plain")]
    pub format: String,
    /// CID version to convert to.
    #[arg(short = 'v')]
    #[serde(rename = "v", default)]
    pub version: Option<String>,
    /// Multicodec to set.
    #[arg(long = "mc")]
    #[serde(rename = "mc", default)]
    pub codec: Option<String>,
    /// Multibase to display in.
    #[arg(short = 'b')]
    #[serde(rename = "b", default)]
    pub base: Option<String>,
}

fn plain() -> String {
    "%s".into()
}

/// One formatted CID (Kubo's `CidFormatRes`): a CID that fails fills only
/// `ErrorMsg`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Formatted {
    /// The CID as given.
    #[serde(rename = "CidStr")]
    pub cid: String,
    /// Its new text.
    #[serde(rename = "Formatted")]
    pub formatted: String,
    /// Why it could not be converted.
    #[serde(rename = "ErrorMsg")]
    pub error: String,
}

/// One `Formatted` per CID; a bad format string stops the command.
fn format_all(
    f: &CidFormatter,
    cids: &[String],
    emit: Emit<'_, Formatted>,
) -> Result<(), ApiError> {
    required(cids, "cid")?;
    for c in cids {
        let (formatted, error) = match f.format(c) {
            Ok(s) => (s, String::new()),
            Err(FormatError::Cid(m)) => (String::new(), m),
            Err(FormatError::BadFormat(m)) => return Err(ApiError::internal(m)),
        };
        emit(Formatted {
            cid: c.clone(),
            formatted,
            error,
        })?;
    }
    Ok(())
}

fn format_text(item: &Formatted, out: &mut dyn Write) -> io::Result<()> {
    if item.error.is_empty() {
        writeln!(out, "{}", item.formatted)
    } else {
        writeln!(out, "{}: {}", item.cid, item.error)
    }
}

const NOT_CONVERTED: &str = "some CIDs could not be converted";

impl Command for Format {
    const PATH: &'static str = "cid/format";
    type Item = Formatted;
    const NEEDS: Needs = Needs::Nothing;

    fn encoding(&self) -> Encoding {
        Encoding::Stream
    }

    fn run(&self, _ctx: &Ctx, emit: Emit<'_, Formatted>) -> Result<(), ApiError> {
        let f = CidFormatter::new(
            Some(&self.format),
            self.version.as_deref(),
            self.codec.as_deref(),
            self.base.as_deref(),
        )
        .map_err(|e| ApiError::internal(e.to_string()))?;
        format_all(&f, &self.cids, emit)
    }

    fn text(&self, item: &Formatted, out: &mut dyn Write) -> io::Result<()> {
        format_text(item, out)
    }

    fn failed(&self, item: &Formatted) -> bool {
        !item.error.is_empty()
    }

    fn failure(&self, _n: usize) -> String {
        NOT_CONVERTED.into()
    }
}

/// Convert CIDs to base32 CIDv1.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(
    after_help = "Examples:\n  ferrite cid base32 QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
)]
pub struct Base32 {
    /// CIDs to convert.
    #[arg(required = true)]
    #[serde(rename = "arg", default)]
    pub cids: Vec<String>,
}

impl Command for Base32 {
    const PATH: &'static str = "cid/base32";
    type Item = Formatted;
    const NEEDS: Needs = Needs::Nothing;

    fn encoding(&self) -> Encoding {
        Encoding::Stream
    }

    fn run(&self, _ctx: &Ctx, emit: Emit<'_, Formatted>) -> Result<(), ApiError> {
        format_all(&CidFormatter::base32(), &self.cids, emit)
    }

    fn text(&self, item: &Formatted, out: &mut dyn Write) -> io::Result<()> {
        format_text(item, out)
    }

    fn failed(&self, item: &Formatted) -> bool {
        !item.error.is_empty()
    }

    fn failure(&self, _n: usize) -> String {
        NOT_CONVERTED.into()
    }
}

/// A multibase, codec or hash function: `{"Code","Name"}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CodeAndName {
    /// Its code (a multibase's prefix character as a number).
    #[serde(rename = "Code")]
    pub code: u64,
    /// Its name.
    #[serde(rename = "Name")]
    pub name: String,
}

fn entries(list: impl Iterator<Item = (u64, &'static str)>) -> Vec<CodeAndName> {
    list.map(|(code, name)| CodeAndName {
        code,
        name: name.into(),
    })
    .collect()
}

/// List multibase encodings.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = "Examples:\n  ferrite cid bases")]
pub struct Bases {}

impl Command for Bases {
    const PATH: &'static str = "cid/bases";
    type Item = Vec<CodeAndName>;
    const NEEDS: Needs = Needs::Nothing;

    fn run(&self, _ctx: &Ctx, emit: Emit<'_, Self::Item>) -> Result<(), ApiError> {
        emit(entries(
            MULTIBASES.iter().map(|(p, name, _)| (*p as u64, *name)),
        ))?;
        Ok(())
    }

    fn text(&self, list: &Self::Item, out: &mut dyn Write) -> io::Result<()> {
        for e in list {
            let p = char::from_u32(e.code as u32)
                .filter(|c| *c != '\0')
                .unwrap_or(' ');
            writeln!(out, "{p}  {}", e.name)?;
        }
        Ok(())
    }
}

/// List IPLD codecs.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = "Examples:\n  ferrite cid codecs\n  ferrite cid codecs --supported")]
pub struct Codecs {
    /// Only the codecs this node encodes or decodes.
    #[arg(long)]
    #[serde(default)]
    pub supported: bool,
}

impl Command for Codecs {
    const PATH: &'static str = "cid/codecs";
    type Item = Vec<CodeAndName>;
    const NEEDS: Needs = Needs::Nothing;

    fn run(&self, _ctx: &Ctx, emit: Emit<'_, Self::Item>) -> Result<(), ApiError> {
        // libp2p-key counts as supported, as in Kubo.
        let supported = |code: u64| {
            code == ferrite_ipld::codecs::LIBP2P_KEY
                || ferrite_ipld::codec::codec_name(code).is_some()
        };
        emit(entries(
            IPLD_CODECS
                .iter()
                .copied()
                .filter(|(code, _)| !self.supported || supported(*code)),
        ))?;
        Ok(())
    }

    fn text(&self, list: &Self::Item, out: &mut dyn Write) -> io::Result<()> {
        list.iter()
            .try_for_each(|e| writeln!(out, "{:5}  {}", e.code, e.name))
    }
}

/// List supported hash functions.
#[derive(clap::Args, Serialize, Deserialize)]
#[command(after_help = "Examples:\n  ferrite cid hashes")]
pub struct Hashes {}

impl Command for Hashes {
    const PATH: &'static str = "cid/hashes";
    type Item = Vec<CodeAndName>;
    const NEEDS: Needs = Needs::Nothing;

    fn run(&self, _ctx: &Ctx, emit: Emit<'_, Self::Item>) -> Result<(), ApiError> {
        emit(entries(HashAlg::ALL.iter().map(|h| (h.code(), h.name()))))?;
        Ok(())
    }

    fn text(&self, list: &Self::Item, out: &mut dyn Write) -> io::Result<()> {
        list.iter()
            .try_for_each(|e| writeln!(out, "{:5}  {}", e.code, e.name))
    }
}
