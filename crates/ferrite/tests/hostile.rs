//! Issue 14: hostile peers (tests/hostile_support) attack a daemon while an
//! honest peer keeps fetching a 4 MiB file from it. Under every attack the
//! honest fetch stays within 2x its baseline (plus slack), the daemon's RSS
//! stays under its configured memory limit, and it keeps answering.

mod common;
#[path = "hostile_support/mod.rs"]
mod hostile_support;

use common::daemon::Node;
use common::{random_bytes, s, Env};
use hostile_support as h;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `Swarm.ResourceMgr.MaxMemory` of the daemon under test, and the RSS it
/// must stay under.
const MEMORY_LIMIT_MIB: u64 = 512;

/// Absolute slack on top of 2x the baseline latency. The machine this runs
/// on has two cores shared by the daemon, the attacker, the honest client
/// and whatever else runs; a 4 MiB fetch takes tens of milliseconds, so one
/// scheduler hiccup is already a sizeable fraction of it.
const SLACK: Duration = Duration::from_millis(200);

/// How long each attack runs.
const ATTACK: Duration = Duration::from_secs(4);

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Samples the daemon's RSS every 20 ms until stopped; gives the peak.
struct Sampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (st, pk) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                if let Some(kib) = rss_kib(pid) {
                    pk.fetch_max(kib, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Sampler { stop, peak, thread }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap();
        self.peak.load(Ordering::SeqCst)
    }
}

/// Honest fetches, one after another on a thread and runtime of their own,
/// until `stop` is set (at least `min` of them).
fn honest(
    t: h::Target,
    root: ferrite_ipld::cid::Cid,
    min: usize,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<Result<Duration, String>>> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut out = Vec::new();
        while out.len() < min || !stop.load(Ordering::SeqCst) {
            let r = rt.block_on(h::fetch(&t, root)).map(|(d, _)| d);
            if r.is_err() {
                // A refused dial fails at once; do not spin.
                std::thread::sleep(Duration::from_millis(50));
            }
            out.push(r);
        }
        out
    })
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

#[test]
fn hostile_peers_neither_starve_honest_ones_nor_exhaust_memory() {
    let env = Env::new();
    env.ok(&[
        "config",
        "Swarm.ResourceMgr.MaxMemory",
        &format!("{MEMORY_LIMIT_MIB}MiB"),
    ]);
    let mut node = Node::with_env(env);
    let pid = node.child.as_ref().unwrap().id();
    let data = random_bytes(14, 4 << 20);
    let file = node.env.write("four.bin", &data);
    let root = ferrite_ipld::parse_cid(node.env.ok(&["add", "-Q", s(&file)]).trim()).unwrap();
    let target = h::Target::parse(&node.addr()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // Baseline: a warm-up fetch, then the median of five.
    let (_, cids) = rt.block_on(h::fetch(&target, root)).unwrap();
    assert!(cids.len() > 16, "{} blocks", cids.len());
    let stop = Arc::new(AtomicBool::new(true));
    let base: Vec<Duration> = honest(target.clone(), root, 5, stop)
        .join()
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let baseline = median(&base);
    let bound = baseline * 2 + SLACK;
    let idle_rss = rss_kib(pid).unwrap();
    eprintln!(
        "baseline fetch of {} blocks: median {baseline:?} of {base:?}; idle RSS {} MiB",
        cids.len(),
        idle_rss >> 10
    );

    let mut failures = Vec::new();
    let mut table = Vec::new();
    for attack in [
        "oversized",
        "wantlist",
        "badblocks",
        "slowreader",
        "streamflood",
        "churn",
        "dhtspam",
    ] {
        let sampler = Sampler::start(pid);
        let stop = Arc::new(AtomicBool::new(false));
        let fetches = honest(target.clone(), root, 3, stop.clone());
        let started = Instant::now();
        let mut cat = None;
        let genuine = bytes::Bytes::from(h::random_bytes(1000));
        let wanted = h::raw_cid(&genuine);
        if attack == "badblocks" {
            // The node wants a block only the hostile peer claims to have.
            cat = Some(
                node.env
                    .cmd(&["cat", &wanted.to_string()])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap(),
            );
        }
        let t = &target;
        let summary = rt.block_on(async {
            match attack {
                "oversized" => h::oversized(t, 64, ATTACK).await,
                "wantlist" => h::wantlist(t, ATTACK).await,
                "badblocks" => h::badblocks(t, wanted, genuine.clone(), ATTACK).await,
                "slowreader" => h::slowreader(t, cids.clone(), 128, ATTACK).await,
                "streamflood" => h::streamflood(t, 4, 300, ATTACK).await,
                "churn" => h::churn(t, 500, 16, Duration::from_secs(20)).await,
                "dhtspam" => h::dhtspam(t, 32, ATTACK).await,
                _ => unreachable!(),
            }
        });
        let took = started.elapsed();
        stop.store(true, Ordering::SeqCst);
        let results = fetches.join().unwrap();
        let peak = sampler.finish();
        let mut ok: Vec<Duration> = results.iter().filter_map(|r| r.clone().ok()).collect();
        let errs: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        if ok.is_empty() {
            ok.push(Duration::MAX);
        }
        let under = median(&ok);
        let row = format!(
            "{attack:<12} baseline {:>7.1} ms  under attack {:>7.1} ms (n={}, {} failed)  peak RSS {:>4} MiB  [{took:.1?}] {summary}",
            baseline.as_secs_f64() * 1e3,
            under.as_secs_f64() * 1e3,
            results.len(),
            errs.len(),
            peak >> 10,
        );
        eprintln!("{row}");
        table.push(row);
        if let Some(mut c) = cat {
            // The genuine block went out at the end of the attack; give the
            // cat 20 s to finish before calling it stuck.
            let deadline = Instant::now() + Duration::from_secs(20);
            while c.try_wait().unwrap().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let out = c.wait_with_output().unwrap();
            if !out.status.success() || out.stdout != genuine[..] {
                failures.push(format!(
                    "badblocks: cat of the wanted block after the forgeries: {:?} {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        if !errs.is_empty() {
            failures.push(format!(
                "{attack}: {} of {} honest fetches failed, first: {}",
                errs.len(),
                results.len(),
                errs[0]
            ));
        }
        if under > bound {
            failures.push(format!(
                "{attack}: honest fetch median {under:?} > 2 x {baseline:?} + {SLACK:?}"
            ));
        }
        if peak > MEMORY_LIMIT_MIB << 10 {
            failures.push(format!(
                "{attack}: daemon RSS {} MiB > {MEMORY_LIMIT_MIB} MiB",
                peak >> 10
            ));
        }
        if !node.running() {
            panic!(
                "{attack}: the daemon died\n{}\nstderr:\n{}",
                table.join("\n"),
                node.stderr()
            );
        }
        let id = node.env.ok(&["id"]);
        assert!(id.contains(&target.peer.to_string()), "{attack}: id: {id}");
    }
    eprintln!("\n{}", table.join("\n"));
    for f in &failures {
        eprintln!("FAILURE {f}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
