//! End-to-end behaviour of the replicated pinset on in-process nodes.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use ferrite_cluster::{ClusterError, ClusterNode, Command, Response};

/// (a) 1,000 pins submitted through a follower reach all three nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_converge_via_follower() {
    let c = TestCluster::bootstrap(&[1, 2, 3]).await;
    let leader = c.leader().await;
    let follower = *c.nodes.keys().find(|&&id| id != leader).unwrap();
    for cmd in batches(0, 1000, 100) {
        let r = c.node(follower).submit(cmd).await.unwrap();
        assert!(matches!(r, Response::Batch(ref v) if v.len() == 100));
    }
    let pins = c.converge(leader, &[1, 2, 3]).await;
    assert_eq!(pins.len(), 1000);
    assert_eq!(c.node(follower).pin(&pin(7).cid).unwrap(), Some(pin(7)));

    // Unpin through the other follower.
    let other = *c
        .nodes
        .keys()
        .find(|&&id| id != leader && id != follower)
        .unwrap();
    let r = c
        .node(other)
        .submit(Command::Unpin { cid: pin(7).cid })
        .await
        .unwrap();
    assert_eq!(
        r,
        Response::Unpinned {
            cid: pin(7).cid,
            existed: true
        }
    );
    let pins = c.converge(leader, &[1, 2, 3]).await;
    assert_eq!(pins.len(), 999);
}

/// (b) Leader dies: a new one takes over without losing acknowledged
/// writes; the old leader restarts from disk and catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_failover_and_restart() {
    let mut c = TestCluster::bootstrap(&[1, 2, 3]).await;
    let old = c.leader().await;
    for cmd in batches(0, 300, 100) {
        c.node(old).submit(cmd).await.unwrap();
    }
    c.stop(old).await;

    let rest: Vec<u64> = c.nodes.keys().copied().collect();
    let new = c.leader_among(&rest).await;
    assert_ne!(new, old);
    // Writes keep working through either survivor.
    for (i, cmd) in batches(300, 300, 100).into_iter().enumerate() {
        c.node(rest[i % 2]).submit(cmd).await.unwrap();
    }
    let pins = c.converge(new, &rest).await;
    assert_eq!(pins.len(), 600, "acknowledged writes lost");

    let back = c.start(old).await;
    assert!(
        back.pin_count().unwrap() >= 300,
        "restarted node lost its state"
    );
    let leader = c.leader().await;
    let pins = c.converge(leader, &[1, 2, 3]).await;
    assert_eq!(pins.len(), 600);
}

/// (c) 2|3 partition with the leader on the minority side: the minority
/// cannot commit, the majority elects a leader and commits; after healing
/// everyone agrees and the minority's unacknowledged write is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_minority_cannot_commit() {
    let mut config = test_config();
    config.submit_timeout = Duration::from_secs(3);
    let c =
        TestCluster::bootstrap_with(ferrite_cluster::MemRouter::new(), config, &[1, 2, 3, 4, 5])
            .await;
    let old = c.leader().await;
    c.node(old)
        .submit(batches(0, 50, 50).remove(0))
        .await
        .unwrap();

    let minority = [old, if old == 1 { 2 } else { 1 }];
    let majority: Vec<u64> = (1..=5).filter(|id| !minority.contains(id)).collect();
    c.router.partition(&[&minority, &majority]);

    // Minority: via the stale leader and via its follower.
    for &id in &minority {
        let r = c
            .node(id)
            .submit(Command::Pin(pin(10_000 + id as usize)))
            .await;
        assert!(
            matches!(r, Err(ClusterError::Timeout(_))),
            "minority write on {id}: {r:?}"
        );
    }
    c.leader_among(&majority).await;
    for (i, cmd) in batches(50, 100, 25).into_iter().enumerate() {
        c.node(majority[i % 3]).submit(cmd).await.unwrap();
    }

    c.router.heal();
    let leader = c.leader().await;
    let pins = c.converge(leader, &[1, 2, 3, 4, 5]).await;
    assert_eq!(pins.len(), 150);
    for &id in &minority {
        assert!(c
            .node(leader)
            .pin(&pin(10_000 + id as usize).cid)
            .unwrap()
            .is_none());
    }
    // The healed minority can write again.
    c.node(minority[1])
        .submit(Command::Pin(pin(20_000)))
        .await
        .unwrap();
}

/// (d) Restart every node from disk: pinset, membership and log intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_all_from_disk() {
    let mut c = TestCluster::bootstrap(&[1, 2, 3]).await;
    let leader = c.leader().await;
    for cmd in batches(0, 500, 100) {
        c.node(leader).submit(cmd).await.unwrap();
    }
    c.node(leader)
        .submit(Command::Unpin { cid: pin(3).cid })
        .await
        .unwrap();
    let before = c.converge(leader, &[1, 2, 3]).await;
    assert_eq!(before.len(), 499);
    let voters = c.node(1).metrics().voters;

    for id in [1, 2, 3] {
        c.stop(id).await;
    }
    for id in [1, 2, 3] {
        let n = c.start(id).await;
        // Applied state is on disk before any election happens.
        assert_eq!(
            n.pins().await.unwrap(),
            before,
            "node {id} state after restart"
        );
        // The membership is on disk too; openraft publishes it in its
        // metrics once its core task has loaded the log, a moment after start.
        for _ in 0..250 {
            if n.metrics().voters == voters {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(n.metrics().voters, voters);
    }
    let leader = c.leader().await;
    c.node(leader)
        .submit(Command::Pin(pin(9999)))
        .await
        .unwrap();
    let after = c.converge(leader, &[1, 2, 3]).await;
    assert_eq!(after.len(), 500);
}

/// (e) Grow to four voters via a learner, then remove one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_learner_promote_and_remove() {
    let mut c = TestCluster::bootstrap(&[1, 2, 3]).await;
    let leader = c.leader().await;
    for cmd in batches(0, 200, 100) {
        c.node(leader).submit(cmd).await.unwrap();
    }

    let four: ClusterNode = c.start(4).await;
    // Issued on a follower on purpose: membership changes are forwarded too.
    let follower = *c.nodes.keys().find(|&&id| id != leader && id != 4).unwrap();
    c.node(follower).add_learner(4, addr(4)).await.unwrap();
    let m = c.node(leader).metrics();
    assert!(m.learners.contains(&4));
    four.wait_applied(m.last_applied.unwrap(), WAIT)
        .await
        .unwrap();
    assert_eq!(four.pin_count().unwrap(), 200, "learner not caught up");

    c.node(leader)
        .change_membership(BTreeSet::from([1, 2, 3, 4]))
        .await
        .unwrap();
    assert_eq!(
        c.node(leader).metrics().voters,
        BTreeSet::from([1, 2, 3, 4])
    );

    let victim = *c.nodes.keys().find(|&&id| id != leader && id != 4).unwrap();
    c.node(leader).remove_peer(victim).await.unwrap();
    let m = c.node(leader).metrics();
    assert!(!m.voters.contains(&victim) && !m.learners.contains(&victim));
    assert_eq!(m.voters.len(), 3);
    c.stop(victim).await;

    for cmd in batches(200, 100, 100) {
        c.node(4).submit(cmd).await.unwrap();
    }
    let ids: Vec<u64> = c.nodes.keys().copied().collect();
    let leader = c.leader().await;
    let pins = c.converge(leader, &ids).await;
    assert_eq!(pins.len(), 300);
}

/// Snapshots: a node that joins after the log was compacted gets the
/// pinset through InstallSnapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_node_gets_snapshot() {
    let mut config = test_config();
    config.snapshot_every = 20;
    config.keep_logs = 0;
    let mut c =
        TestCluster::bootstrap_with(ferrite_cluster::MemRouter::new(), config, &[1, 2, 3]).await;
    let leader = c.leader().await;
    for cmd in batches(0, 1000, 10) {
        c.node(leader).submit(cmd).await.unwrap();
    }
    c.node(leader).raft().trigger().snapshot().await.unwrap();
    c.node(leader)
        .raft()
        .wait(Some(WAIT))
        .metrics(|m| m.purged.is_some(), "purged")
        .await
        .unwrap();
    c.start(4).await;
    c.node(leader).add_learner(4, addr(4)).await.unwrap();
    let pins = c.converge(leader, &[1, 2, 3, 4]).await;
    assert_eq!(pins.len(), 1000);
    // Node 4 must have been seeded by InstallSnapshot, not by log replay.
    assert!(c.node(4).raft().metrics().borrow().snapshot.is_some());
}

/// Peers joining at the same moment (every daemon of a fresh cluster
/// started at once) all become voters: concurrent membership changes wait
/// for each other instead of failing, and none drops a voter another added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_joins_all_become_voters() {
    let mut c = TestCluster::bootstrap(&[1]).await;
    let mut joiners = Vec::new();
    for id in 2..=6 {
        c.start(id).await;
        joiners.push(id);
    }
    let one = c.node(1).clone();
    let joins = joiners.iter().map(|&id| {
        let one = one.clone();
        async move { (id, one.add_voter(id, addr(id)).await) }
    });
    for (id, r) in futures::future::join_all(joins).await {
        r.unwrap_or_else(|e| panic!("join of {id} failed: {e}"));
    }
    assert_eq!(
        c.node(1).metrics().voters,
        BTreeSet::from([1, 2, 3, 4, 5, 6])
    );
}
