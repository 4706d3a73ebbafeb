//! Storage engine comparison behind the choice of [`PackStore`]
//! (results in docs/perf-log.md, "Block store engine").
//!
//! Writes the two workloads that matter for `add` — 256 MiB as 256 KiB
//! blocks, and 10,000 blocks of 1–4 KiB — durably (one commit with fsync at
//! the end, as an add does), then reads the large set back:
//!
//! ```text
//! cargo run --release -p ferrite-store --example engines [--features engine-bench] -- DIR
//! ```
//!
//! DIR should be on the disk the repo would live on. With the
//! `engine-bench` feature fjall (an LSM with key-value separation) is
//! measured too; it is not a dependency otherwise.

use ferrite_ipld::{codecs, Cid, HashAlg};
use ferrite_store::{Blockstore, PackStore};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn blocks(n: usize, min: usize, max: usize, seed: u64) -> Vec<(Cid, Vec<u8>)> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let len = min + (s as usize % (max - min + 1));
            let mut v = vec![0u8; len];
            let mut x = s;
            for c in v.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                c.copy_from_slice(&x.to_le_bytes()[..c.len()]);
            }
            (Cid::new_v1(codecs::RAW, HashAlg::Sha2_256.digest(&v)), v)
        })
        .collect()
}

trait Engine {
    fn name(&self) -> &'static str;
    fn write(&self, dir: &Path, data: &[(Cid, Vec<u8>)]);
    fn read(&self, dir: &Path, data: &[(Cid, Vec<u8>)]) -> usize;
}

struct Pack;
impl Engine for Pack {
    fn name(&self) -> &'static str {
        "packstore (ferrite)"
    }
    fn write(&self, dir: &Path, data: &[(Cid, Vec<u8>)]) {
        let s = PackStore::open(dir).unwrap();
        let mut w = s.writer().unwrap();
        for (c, d) in data {
            w.put(c, d).unwrap();
        }
        w.commit().unwrap();
    }
    fn read(&self, dir: &Path, data: &[(Cid, Vec<u8>)]) -> usize {
        let s = PackStore::open(dir).unwrap();
        data.iter()
            .map(|(c, _)| s.get(c).unwrap().unwrap().len())
            .sum()
    }
}

struct Redb;
const T: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("b");
impl Engine for Redb {
    fn name(&self) -> &'static str {
        "redb (values in the B-tree)"
    }
    fn write(&self, dir: &Path, data: &[(Cid, Vec<u8>)]) {
        let db = redb::Database::create(dir.join("db.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(T).unwrap();
            for (c, d) in data {
                t.insert(c.hash().to_bytes().as_slice(), d.as_slice())
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    fn read(&self, dir: &Path, data: &[(Cid, Vec<u8>)]) -> usize {
        let db = redb::Database::create(dir.join("db.redb")).unwrap();
        let rt = db.begin_read().unwrap();
        let t = rt.open_table(T).unwrap();
        data.iter()
            .map(|(c, _)| {
                t.get(c.hash().to_bytes().as_slice())
                    .unwrap()
                    .unwrap()
                    .value()
                    .to_vec()
                    .len()
            })
            .sum()
    }
}

/// Kubo's flatfs: one file per block under a 2-character shard folder,
/// fsynced one by one (flatfs `sync: true`).
struct FlatFs;
fn flat_path(dir: &Path, c: &Cid) -> PathBuf {
    let k = c.to_string();
    dir.join(&k[k.len() - 3..k.len() - 1])
        .join(format!("{k}.data"))
}
impl Engine for FlatFs {
    fn name(&self) -> &'static str {
        "flatfs (file per block, fsync each)"
    }
    fn write(&self, dir: &Path, data: &[(Cid, Vec<u8>)]) {
        for (c, d) in data {
            let p = flat_path(dir, c);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            let mut f = std::fs::File::create(&p).unwrap();
            f.write_all(d).unwrap();
            f.sync_all().unwrap();
        }
    }
    fn read(&self, dir: &Path, data: &[(Cid, Vec<u8>)]) -> usize {
        data.iter()
            .map(|(c, _)| std::fs::read(flat_path(dir, c)).unwrap().len())
            .sum()
    }
}

#[cfg(feature = "engine-bench")]
struct Fjall;
#[cfg(feature = "engine-bench")]
impl Engine for Fjall {
    fn name(&self) -> &'static str {
        "fjall 2 (LSM, kv separation)"
    }
    fn write(&self, dir: &Path, data: &[(Cid, Vec<u8>)]) {
        let ks = fjall::Config::new(dir).open().unwrap();
        let p = ks
            .open_partition(
                "b",
                fjall::PartitionCreateOptions::default()
                    .with_kv_separation(fjall::KvSeparationOptions::default()),
            )
            .unwrap();
        let mut b = ks.batch();
        for (c, d) in data {
            b.insert(&p, c.hash().to_bytes(), d.as_slice());
        }
        b.commit().unwrap();
        ks.persist(fjall::PersistMode::SyncAll).unwrap();
    }
    fn read(&self, dir: &Path, data: &[(Cid, Vec<u8>)]) -> usize {
        let ks = fjall::Config::new(dir).open().unwrap();
        let p = ks
            .open_partition(
                "b",
                fjall::PartitionCreateOptions::default()
                    .with_kv_separation(fjall::KvSeparationOptions::default()),
            )
            .unwrap();
        data.iter()
            .map(|(c, _)| p.get(c.hash().to_bytes()).unwrap().unwrap().len())
            .sum()
    }
}

fn main() {
    let base = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/tmp/ferrite-engines".into()),
    );
    let large = blocks(1024, 262144, 262144, 1);
    let small = blocks(10_000, 1024, 4096, 2);
    let large_bytes: usize = large.iter().map(|b| b.1.len()).sum();
    #[allow(unused_mut)]
    let mut engines: Vec<Box<dyn Engine>> = vec![Box::new(Pack), Box::new(Redb), Box::new(FlatFs)];
    #[cfg(feature = "engine-bench")]
    engines.push(Box::new(Fjall));
    println!("| engine | 256 MiB in 256 KiB blocks, MB/s | 10,000 small blocks, blocks/s | read 256 MiB, MB/s |");
    println!("|---|---|---|---|");
    for e in engines {
        let _ = std::fs::remove_dir_all(&base);
        let (dl, ds) = (base.join("large"), base.join("small"));
        std::fs::create_dir_all(&dl).unwrap();
        std::fs::create_dir_all(&ds).unwrap();
        let t = Instant::now();
        e.write(&dl, &large);
        let w_large = large_bytes as f64 / t.elapsed().as_secs_f64() / 1e6;
        let t = Instant::now();
        e.write(&ds, &small);
        let w_small = small.len() as f64 / t.elapsed().as_secs_f64();
        // drop the page cache's advantage as far as we can without root tricks
        let t = Instant::now();
        let n = e.read(&dl, &large);
        assert_eq!(n, large_bytes);
        let r_large = large_bytes as f64 / t.elapsed().as_secs_f64() / 1e6;
        println!(
            "| {} | {w_large:.0} | {w_small:.0} | {r_large:.0} |",
            e.name()
        );
    }
    let _ = std::fs::remove_dir_all(&base);
}
