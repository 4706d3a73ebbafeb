//! `ferrite id` and `ferrite shutdown`.

use super::Target;
use serde::Serialize;
use serde_json::Value;

/// Arguments of `id`.
#[derive(clap::Args)]
#[command(after_help = concat!(
    "Examples:\n",
    "  ferrite id\n",
    "  ferrite --api /ip4/127.0.0.1/tcp/5001 id",
))]
pub(crate) struct IdArgs {
    /// Print with this format: `<id>`, `<aver>`, `<pubkey>`, `<addrs>` and
    /// `<protocols>` are replaced.
    #[arg(short, long)]
    format: Option<String>,
}

/// Runs `id`: the daemon's answer, or offline the repo's identity (as Kubo's
/// offline `ipfs id`), printed the same way.
pub(crate) fn id(t: &Target, a: IdArgs) -> anyhow::Result<()> {
    let v = match t {
        Target::Remote(c) => c.request("id").json()?,
        Target::Local(repo) => {
            let cfg = super::open(repo)?.config();
            use base64::Engine;
            let public_key = base64::engine::general_purpose::STANDARD
                .encode(cfg.keypair()?.public().encode_protobuf());
            serde_json::json!({
                "ID": cfg.peer_id()?,
                "PublicKey": public_key,
                "Addresses": Vec::<String>::new(),
                "AgentVersion": format!("ferrite/{}", env!("CARGO_PKG_VERSION")),
                "Protocols": Vec::<String>::new(),
            })
        }
    };
    print_id(&v, a.format.as_deref())
}

fn print_id(v: &Value, format: Option<&str>) -> anyhow::Result<()> {
    let Some(f) = format else {
        // Kubo prints `id` as tab-indented JSON.
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(
            &mut out,
            serde_json::ser::PrettyFormatter::with_indent(b"\t"),
        );
        v.serialize(&mut ser)?;
        println!("{}", String::from_utf8(out)?);
        return Ok(());
    };
    let list = |k: &str| {
        v.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    };
    let s = f
        .replace("<id>", crate::remote::str_field(v, "ID"))
        .replace("<aver>", crate::remote::str_field(v, "AgentVersion"))
        .replace("<pubkey>", crate::remote::str_field(v, "PublicKey"))
        .replace("<addrs>", &list("Addresses"))
        .replace("<protocols>", &list("Protocols"))
        .replace("\\n", "\n")
        .replace("\\t", "\t");
    print!("{s}");
    Ok(())
}

/// Runs `shutdown`: asks the daemon to stop.
pub(crate) fn shutdown(t: &Target) -> anyhow::Result<()> {
    match t {
        Target::Remote(c) => {
            c.request("shutdown").send()?;
            Ok(())
        }
        Target::Local(_) => anyhow::bail!(
            "this action must be run in online mode, try running 'ferrite daemon' first"
        ),
    }
}
