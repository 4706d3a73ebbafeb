//! `ferrite service install`: runs Ferrite as a systemd service.
//!
//! The unit is written from one template ([`unit()`]); the copy shipped in
//! `contrib/systemd/` is that template's output for the defaults (a test
//! checks they match). The daemon speaks sd_notify itself, so the unit is
//! `Type=notify` with a watchdog; `systemctl reload` sends SIGHUP, which
//! re-reads the config (log filter, bootstrap, API settings).

use ferrite_node::Node;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `service` subcommands.
#[derive(clap::Subcommand)]
pub(crate) enum Command {
    /// Write a systemd unit for `ferrite daemon`, create its user and repo,
    /// and say how to start it.
    #[command(after_help = concat!(
        "Examples:\n",
        "  ferrite service install --profile lowpower --swarm-key swarm.key\n",
        "  ferrite service install --user\n",
        "  ferrite service install --print",
    ))]
    Install(Install),
}

/// Arguments of `service install`.
#[derive(clap::Args)]
pub(crate) struct Install {
    /// A user service (`systemctl --user`) running as you, instead of a
    /// system service running as the `ferrite` user.
    #[arg(long)]
    user: bool,
    /// The repo the service runs on (default: /var/lib/ferrite; with
    /// --user, $FERRITE_PATH or ~/.ferrite). Created if missing.
    #[arg(long, value_name = "PATH")]
    repo: Option<PathBuf>,
    /// Profiles for a new repo; `lowpower` and `server` also size the
    /// unit's memory limits.
    #[arg(short = 'p', long = "profile", value_delimiter = ',')]
    profile: Vec<String>,
    /// Copy this swarm key into a new repo (a private network).
    #[arg(long = "swarm-key", value_name = "FILE")]
    swarm_key: Option<PathBuf>,
    /// The ferrite binary the unit starts (default: this one).
    #[arg(long, value_name = "PATH")]
    binary: Option<PathBuf>,
    /// Where the unit file goes (default: /etc/systemd/system, with --user
    /// $XDG_CONFIG_HOME/systemd/user).
    #[arg(long = "unit-dir", value_name = "DIR")]
    unit_dir: Option<PathBuf>,
    /// Only print the unit; change nothing.
    #[arg(long)]
    print: bool,
}

/// The system service's account and default repo.
const SERVICE_USER: &str = "ferrite";
const SYSTEM_REPO: &str = "/var/lib/ferrite";
/// The binary's path in the shipped unit.
#[cfg(test)]
const SHIPPED_BINARY: &str = "/usr/local/bin/ferrite";

/// What a unit is made from.
#[derive(Debug, Clone)]
pub(crate) struct UnitSpec {
    /// The ferrite binary.
    pub binary: PathBuf,
    /// The repo (`FERRITE_PATH`).
    pub repo: PathBuf,
    /// A system service running as [`SERVICE_USER`]; else a user service.
    pub system: bool,
    /// The profiles the repo was made with (sizes the memory limits).
    pub profiles: Vec<String>,
    /// A template (`ferrite@NAME.service`): `%i` in `repo` is NAME.
    pub template: bool,
}

/// `(MemoryHigh, MemoryMax)` for the profiles: the daemon's working set is
/// tens of MiB (BENCHMARKS.md), the rest is page cache the kernel may
/// reclaim, so the limits only stop a runaway.
fn memory_limits(profiles: &[String]) -> (&'static str, &'static str) {
    if profiles.iter().any(|p| p == "lowpower") {
        ("256M", "512M")
    } else if profiles.iter().any(|p| p == "server") {
        ("4G", "8G")
    } else {
        ("1G", "2G")
    }
}

/// The unit file for `spec`.
pub(crate) fn unit(spec: &UnitSpec) -> String {
    let (high, max) = memory_limits(&spec.profiles);
    let repo = spec.repo.display();
    let mut u = String::new();
    let _ = writeln!(
        u,
        "# Written by `ferrite service install`{}.",
        if spec.profiles.is_empty() {
            String::new()
        } else {
            format!(" (profile {})", spec.profiles.join(","))
        }
    );
    if spec.template {
        let _ = writeln!(
            u,
            "# One node per instance: create its repo first, as the {SERVICE_USER} user:\n\
             #   sudo -u {SERVICE_USER} {} --repo-dir {} init\n\
             # and give it ports of its own (Addresses.Swarm, .API, .Gateway in its config);\n\
             # then: systemctl enable --now ferrite@NAME",
            spec.binary.display(),
            spec.repo.display().to_string().replace("%i", "NAME"),
        );
    }
    u.push_str("[Unit]\n");
    let _ = writeln!(
        u,
        "Description=Ferrite IPFS node{}",
        if spec.template { " %i" } else { "" }
    );
    u.push_str(
        "After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=notify\n\
         NotifyAccess=main\n",
    );
    let _ = writeln!(u, "Environment=FERRITE_PATH={repo}");
    let _ = writeln!(u, "ExecStart={} daemon", spec.binary.display());
    u.push_str(
        "ExecReload=/bin/kill -HUP $MAINPID\n\
         Restart=on-failure\n\
         RestartSec=5s\n\
         # The daemon exits within 10 s of SIGTERM.\n\
         TimeoutStopSec=20s\n\
         # The daemon feeds the watchdog while its store answers.\n\
         WatchdogSec=60s\n\
         LimitNOFILE=65536\n",
    );
    let _ = writeln!(u, "MemoryHigh={high}\nMemoryMax={max}");
    u.push_str("NoNewPrivileges=yes\n");
    if spec.system {
        let _ = writeln!(u, "User={SERVICE_USER}\nGroup={SERVICE_USER}");
        let _ = writeln!(u, "ProtectSystem=strict\nReadWritePaths={repo}");
        u.push_str(
            "ProtectHome=yes\n\
             PrivateTmp=yes\n\
             PrivateDevices=yes\n\
             ProtectKernelTunables=yes\n\
             ProtectKernelModules=yes\n\
             ProtectControlGroups=yes\n\
             RestrictSUIDSGID=yes\n\
             LockPersonality=yes\n\
             RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK\n\
             \n\
             [Install]\n\
             WantedBy=multi-user.target\n",
        );
    } else {
        u.push_str("\n[Install]\nWantedBy=default.target\n");
    }
    u
}

/// The units shipped in `contrib/systemd/`: `ferrite.service` and the
/// template `ferrite@.service` (one repo per instance).
#[cfg(test)]
pub(crate) fn shipped_units() -> [(&'static str, String); 2] {
    let spec = |template: bool, repo: &str| UnitSpec {
        binary: SHIPPED_BINARY.into(),
        repo: repo.into(),
        system: true,
        profiles: Vec::new(),
        template,
    };
    [
        ("ferrite.service", unit(&spec(false, SYSTEM_REPO))),
        (
            "ferrite@.service",
            unit(&spec(true, &format!("{SYSTEM_REPO}/%i"))),
        ),
    ]
}

/// Runs `service`; `repo` (the global repo path) is a user service's
/// default repo.
pub(crate) fn run(repo: &Path, c: Command) -> anyhow::Result<()> {
    match c {
        Command::Install(a) => install(repo, a),
    }
}

fn install(user_repo: &Path, a: Install) -> anyhow::Result<()> {
    let system = !a.user;
    let repo = match &a.repo {
        Some(r) => absolute(r)?,
        None if system => SYSTEM_REPO.into(),
        None => absolute(user_repo)?,
    };
    let binary = match &a.binary {
        Some(b) => absolute(b)?,
        None => std::env::current_exe()?,
    };
    let spec = UnitSpec {
        binary,
        repo: repo.clone(),
        system,
        profiles: a.profile.clone(),
        template: false,
    };
    if system && hidden_by_protect_home(&spec.binary) {
        eprintln!(
            "Warning: {} is under /home, /root or /run/user, which the unit's ProtectHome=yes hides \
             from the service; copy it (e.g. to /usr/local/bin/ferrite) and pass --binary",
            spec.binary.display(),
        );
    }
    let text = unit(&spec);
    if a.print {
        print!("{text}");
        return Ok(());
    }
    // SAFETY: geteuid has no preconditions.
    if system && unsafe { libc::geteuid() } != 0 {
        anyhow::bail!(
            "a system service needs root: run it with sudo, or use --user for a user service"
        );
    }
    let unit_dir = match &a.unit_dir {
        Some(d) => d.clone(),
        None if system => "/etc/systemd/system".into(),
        None => user_unit_dir()?,
    };
    if system {
        ensure_user()?;
    }
    if Node::is_initialized(&repo) {
        println!("Using the existing repo at {}", repo.display());
    } else {
        super::init::run(
            &repo,
            super::init::Args::with(a.profile.clone(), a.swarm_key.clone()),
        )?;
    }
    if system {
        chown_tree(&repo, SERVICE_USER)?;
        println!("Gave {} to the {SERVICE_USER} user", repo.display());
    }
    std::fs::create_dir_all(&unit_dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", unit_dir.display()))?;
    let path = unit_dir.join("ferrite.service");
    ferrite_node::write_durably(&path, text.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    println!("Wrote {}", path.display());
    let ctl = if system {
        "systemctl"
    } else {
        "systemctl --user"
    };
    println!("Start it with:\n  {ctl} daemon-reload\n  {ctl} enable --now ferrite");
    println!("Then: {ctl} status ferrite; {ctl} reload ferrite re-reads the config");
    Ok(())
}

/// Whether `ProtectHome=yes` makes `path` unreachable for the service.
fn hidden_by_protect_home(path: &Path) -> bool {
    ["/home", "/root", "/run/user"]
        .iter()
        .any(|p| path.starts_with(p))
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(std::path::absolute(p)?)
}

/// `$XDG_CONFIG_HOME/systemd/user`, else `~/.config/systemd/user`.
fn user_unit_dir() -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(
            std::env::var_os("HOME").ok_or_else(|| anyhow::anyhow!("HOME is not set"))?,
        )
        .join(".config"),
    };
    Ok(base.join("systemd").join("user"))
}

/// Creates the system account the service runs as, unless it exists.
fn ensure_user() -> anyhow::Result<()> {
    let exists = std::process::Command::new("id")
        .args(["-u", SERVICE_USER])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if exists {
        println!("Using the existing {SERVICE_USER} user");
        return Ok(());
    }
    let status = std::process::Command::new("useradd")
        .args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            SYSTEM_REPO,
            "--shell",
            "/usr/sbin/nologin",
            SERVICE_USER,
        ])
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run useradd: {e}"))?;
    anyhow::ensure!(status.success(), "useradd {SERVICE_USER} failed ({status})");
    println!("Created the system user {SERVICE_USER}");
    Ok(())
}

/// `chown -R user:user path`.
fn chown_tree(path: &Path, user: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("chown")
        .args(["-R", &format!("{user}:{user}")])
        .arg(path)
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run chown: {e}"))?;
    anyhow::ensure!(
        status.success(),
        "chown -R {user} {} failed",
        path.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The shipped units are the template's output: `service install` and
    /// `contrib/` cannot drift apart. (`FERRITE_WRITE_UNITS=1` rewrites them.)
    #[test]
    fn contrib_units_are_the_template_output() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contrib/systemd");
        for (name, text) in super::shipped_units() {
            let path = dir.join(name);
            if std::env::var_os("FERRITE_WRITE_UNITS").is_some() {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &text).unwrap();
            }
            let shipped = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                shipped,
                text,
                "{} is stale: FERRITE_WRITE_UNITS=1 cargo test -p ferrite contrib_units",
                path.display()
            );
        }
    }
}
