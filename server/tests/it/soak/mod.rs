//! The reliability harness: real `meeboter serve` processes over a real PostgreSQL, the bot-sim
//! fleet host as the shared cloud (k8s, aws and coolify simulated), faults and `kill -9`. Each
//! scenario prints a table (measure, value, goal, pass) and fails if a goal is missed.
//!
//! Small by default (part of `./dev test`); `SOAK=full` runs the sizes (`./dev soak`).

mod cluster;
mod proxy;
mod table;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use app::backend::platforms::faults::Fault;
use app::model::platform::DeploymentPlatform;
use server::bot_sim::fleet::{Launch, Run};
use server::bot_sim::{Behaviour, Protocol};

use cluster::{id_list, rand_u64, Cluster, Options, PLATFORMS};
use table::{Sampler, Table};

/// `SOAK=full`: the sizes.
fn full() -> bool {
    std::env::var("SOAK").is_ok_and(|v| v == "full")
}

fn size_name() -> &'static str {
    if full() {
        "full"
    } else {
        "small"
    }
}

/// Short-lived bots: join in 0.3 s, heartbeat every second, leave after `call_secs`.
fn bots(call_secs: f64) -> Behaviour {
    Behaviour {
        protocol: Protocol::Rest,
        heartbeat_secs: 1.0,
        join_secs: 0.3,
        call_secs: Some(call_secs),
        fail: None,
        log_rate: Some(1.0),
    }
}

fn options(replicas: usize, limits: [u32; 3], behaviour: Behaviour) -> Options {
    Options { replicas, limits, platform_wait_ms: 300, heartbeat_timeout_ms: 10_000, behaviour, vars: Vec::new() }
}

const NOT_ENDED: [&str; 8] =
    ["SCHEDULED", "QUEUED", "DEPLOYING", "JOINING_CALL", "IN_WAITING_ROOM", "IN_CALL", "LEAVING", "CALL_ENDED"];

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

/// Percentile `p` (0..=100) of sorted values.
fn pct(sorted: &[i64], p: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) * p).div_ceil(100)]
}

/// A fleet resource that runs but that no active bot on its platform owns (by identifier).
async fn orphans(c: &Cluster) -> Vec<String> {
    let mut out = Vec::new();
    for (platform, _) in PLATFORMS {
        let running: Vec<(String, i64)> = c
            .fleet
            .resources(platform)
            .into_iter()
            .filter(|(_, _, run)| *run == Run::Running)
            .map(|(id, bot, _)| (id, bot))
            .collect();
        if running.is_empty() {
            continue;
        }
        let owned: std::collections::HashSet<String> = c
            .pairs(&format!(
                "SELECT platform_identifier AS k, id AS n FROM bots WHERE deployment_platform = '{}' \
                 AND platform_identifier IS NOT NULL AND status IN \
                 ('DEPLOYING','JOINING_CALL','IN_WAITING_ROOM','IN_CALL','LEAVING','CALL_ENDED')",
                platform.as_str()
            ))
            .await
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        out.extend(
            running.into_iter().filter(|(id, _)| !owned.contains(id)).map(|(id, bot)| format!("{id} (bot {bot})")),
        );
    }
    out
}

/// Per platform, against its limit: the most active bots the 100 ms samples of the database
/// saw (the gate: the "active bots per platform"), and, for information, the most
/// running resources the 100 ms samples of the fleet host saw. The fleet's
/// exact maximum (counted at each launch) is shown too: it can exceed the limit by a bot that
/// reported DONE (freeing its place in the database) and whose process had not exited yet when
/// the next bot was launched, a window of milliseconds (see docs/PERFORMANCE.md).
fn limit_checks(t: &mut Table, seen: &table::Seen, stats: &server::bot_sim::fleet::FleetStats, limits: [u32; 3]) {
    for ((platform, _), limit) in PLATFORMS.iter().zip(limits) {
        let name = platform.as_str();
        let db = seen.max.get(name).copied().unwrap_or(0);
        let fleet = seen.fleet_max.get(name).copied().unwrap_or(0);
        let exact = stats.max_running.get(name).copied().unwrap_or(0);
        let limit = i64::from(limit);
        t.check(format!("{name}: most active bots (DB, 100 ms samples)"), db, format!("<= {limit}"), db <= limit);
        // Information, not a gate: a resource whose bot reported DONE keeps running until its
        // process exits, so under load a sample can see the next bot's resource beside it.
        t.info(format!("{name}: most running resources (fleet, 100 ms samples)"), fleet);
        t.info(format!("{name}: most running at any instant (fleet maxRunning)"), exact);
        if i64::try_from(exact).unwrap_or(i64::MAX) > limit {
            t.note(format!(
                "{name}: maxRunning {exact} > limit {limit}: a bot that had reported DONE was still exiting when the next was launched"
            ));
        }
        t.info(format!("{name}: launches"), stats.launches.get(name).copied().unwrap_or(0));
    }
}

/// 1. Platform A (k8s) fails every call: every bot lands on B (aws) within 2 s of its first try,
/// A is marked unhealthy; once A answers again a probe makes it healthy and it takes bots again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_failover_moves_bots_off_a_failing_platform_and_it_recovers() {
    let started = Instant::now();
    let n = if full() { 200 } else { 12 };
    let limit = if full() { 250 } else { 20 };
    let c = Cluster::start("failover", options(2, [limit, limit, limit], bots(1.0))).await;
    let mut t = Table::new("failover", format!("{}: {n} bots, 2 replicas", size_name()));

    c.break_platform(DeploymentPlatform::K8s, Some(Fault::Http500));
    let ids = c.create_bots(n, 16).await;
    let landed = c.wait_until_none(&ids, &["SCHEDULED", "QUEUED"], Duration::from_secs(120)).await;
    // While A still fails: its health row.
    let unhealthy = c
        .count("SELECT count(*) AS n FROM platform_health WHERE platform = 'k8s' AND unhealthy_since IS NOT NULL")
        .await;
    let ended = c.wait_until_none(&ids, &NOT_ENDED, Duration::from_secs(120)).await;
    let list = id_list(&ids);
    let on_b =
        c.count(&format!("SELECT count(*) AS n FROM bots WHERE id IN ({list}) AND deployment_platform = 'aws'")).await;
    let done = c.count(&format!("SELECT count(*) AS n FROM bots WHERE id IN ({list}) AND status = 'DONE'")).await;
    // From each bot's first deploy attempt (on A, or on B once A is known to fail) to the end of
    // its successful one on B.
    let mut first_try_to_b: Vec<i64> = c
        .pairs(&format!(
            "SELECT bot_id::text AS k, (EXTRACT(EPOCH FROM (max(started_at + make_interval(secs => duration_ms / 1000.0)) \
                 FILTER (WHERE outcome = 'deployed' AND platform = 'aws') - min(started_at))) * 1000)::bigint AS n \
             FROM deploy_attempts WHERE bot_id IN ({list}) GROUP BY bot_id \
             HAVING count(*) FILTER (WHERE outcome = 'deployed' AND platform = 'aws') > 0"
        ))
        .await
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    first_try_to_b.sort_unstable();
    let failed_on_a = c
        .count(&format!(
            "SELECT count(DISTINCT bot_id) AS n FROM deploy_attempts WHERE bot_id IN ({list}) AND platform = 'k8s' AND outcome = 'failed'"
        ))
        .await;
    // From QUEUED (the create) to DEPLOYING, for context: includes the dispatcher's tick.
    let mut queued_to_deploying: Vec<i64> = c
        .pairs(&format!(
            "SELECT bot_id::text AS k, (EXTRACT(EPOCH FROM (min(event_time) FILTER (WHERE event_type = 'DEPLOYING') \
                 - min(event_time) FILTER (WHERE event_type = 'QUEUED'))) * 1000)::bigint AS n \
             FROM events WHERE bot_id IN ({list}) GROUP BY bot_id \
             HAVING count(*) FILTER (WHERE event_type = 'DEPLOYING') > 0"
        ))
        .await
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    queued_to_deploying.sort_unstable();

    // A answers again: a probe makes it healthy, then it takes new bots.
    c.break_platform(DeploymentPlatform::K8s, None);
    let healed_at = Instant::now();
    let mut recovered = None;
    while healed_at.elapsed() < Duration::from_secs(30) {
        let sick = c
            .count("SELECT count(*) AS n FROM platform_health WHERE platform = 'k8s' AND unhealthy_since IS NOT NULL")
            .await;
        if sick == 0 {
            recovered = Some(healed_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = c.create_bots(4, 4).await;
    c.wait_until_none(&after, &NOT_ENDED, Duration::from_secs(60)).await;
    let after_on_a = c
        .count(&format!(
            "SELECT count(*) AS n FROM bots WHERE id IN ({}) AND deployment_platform = 'k8s' AND status = 'DONE'",
            id_list(&after)
        ))
        .await;

    t.check("bots placed (left the queue)", landed, "true", landed);
    t.check("bots whose deploy failed on A (the rest skipped it)", failed_on_a, ">= 1", failed_on_a >= 1);
    t.check("bots that landed on B (aws)", on_b, format!("{n}"), on_b == n as i64);
    t.check("bots DONE", done, format!("{n}"), ended && done == n as i64);
    let worst = first_try_to_b.last().copied().unwrap_or(i64::MAX);
    t.info("first try -> deployed on B, p50", format!("{} ms", pct(&first_try_to_b, 50)));
    t.check(
        "first try -> deployed on B, max",
        format!("{worst} ms"),
        "<= 2000 ms",
        worst <= 2000 && first_try_to_b.len() == n,
    );
    t.info(
        "QUEUED -> DEPLOYING, p50 / max",
        format!("{} / {} ms", pct(&queued_to_deploying, 50), queued_to_deploying.last().copied().unwrap_or(0)),
    );
    t.check("A marked unhealthy while failing", unhealthy == 1, "true", unhealthy == 1);
    t.check(
        "A healthy again after the fault cleared",
        recovered.map_or("never (30 s)".into(), ms),
        "<= 10000 ms",
        recovered.is_some_and(|d| d <= Duration::from_secs(10)),
    );
    t.check("new bots placed on A after recovery", after_on_a, "4", after_on_a == 4);
    t.info("wall time", ms(started.elapsed()));
    t.note(format!("replica logs: {}", c.logs()));
    t.finish();
}

/// 2. Several replicas dispatch many bots over three platforms with limits: the active count
/// per platform never exceeds its limit (sampled from the database every 100 ms, and exactly
/// from the fleet host's maxRunning), no bot is deployed twice, every bot ends DONE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_limits_hold_over_three_platforms_and_three_replicas() {
    let started = Instant::now();
    let (n, limits) = if full() { (5_000, [30, 50, 100]) } else { (150, [3, 5, 10]) };
    let c = Cluster::start("limits", options(3, limits, bots(if full() { 3.0 } else { 1.5 }))).await;
    let mut t = Table::new("limits", format!("{}: {n} bots, 3 replicas, limits {limits:?}", size_name()));
    let sampler = Sampler::start(&c.database_url, c.fleet.clone()).await;
    let ids = c.create_bots(n, 32).await;
    let created = started.elapsed();
    let ended = c.wait_until_none(&ids, &NOT_ENDED, Duration::from_secs(if full() { 3600 } else { 240 })).await;
    let seen = sampler.finish().await;
    let stats = c.stats();
    let statuses = c.statuses(&ids).await;
    let done = statuses.iter().find(|(s, _)| s == "DONE").map_or(0, |(_, n)| *n);

    limit_checks(&mut t, &seen, &stats, limits);
    t.info("DB samples", seen.samples);
    t.check("bots with 2 resources at once (fleet duplicates)", stats.duplicates, "0", stats.duplicates == 0);
    t.check("bots launched twice (fleet relaunched)", stats.relaunched, "0", stats.relaunched == 0);
    t.check("bots DONE", done, format!("{n}"), ended && done == n as i64);
    t.info("statuses", format!("{statuses:?}"));
    t.info("time to create all bots", ms(created));
    t.info("wall time", ms(started.elapsed()));
    t.info("heartbeat p99 (fleet)", format!("{:.1} ms", stats.meter.heartbeat_p99_ms.unwrap_or(0.0)));
    t.info("log lines sent / dropped", format!("{} / {}", stats.meter.log_lines_sent, stats.meter.log_lines_dropped));
    t.note(format!("duplicate bots: {:?}; relaunched bots: {:?}", stats.duplicate_bots, stats.relaunched_bots));
    t.note(format!("replica logs: {}", c.logs()));
    t.finish();
}

/// 3. `kill -9` of a random replica at a random moment during a storm, then restarted: no bot
/// lost, no duplicate resource, no orphaned resource after recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_crashes_lose_no_bot_and_leave_no_duplicate_or_orphan() {
    let started = Instant::now();
    let (trials, per_trial, limits) = if full() { (20, 1_000, [30, 50, 100]) } else { (2, 60, [10, 10, 20]) };
    let c = Cluster::start("crashes", options(3, limits, bots(1.5))).await;
    let mut t = Table::new("crashes", format!("{}: {trials} trials x {per_trial} bots, 3 replicas", size_name()));
    let sampler = Sampler::start(&c.database_url, c.fleet.clone()).await;
    let mut ids = Vec::new();
    let mut kills = Vec::new();
    for trial in 0..trials {
        // Kill a random replica at a random moment while the storm is created and placed
        // (0 .. 3 s in), keep it down a moment, restart it.
        let victim = (rand_u64() % c.replicas() as u64) as usize;
        let at = Duration::from_millis(rand_u64() % 3000);
        let down = Duration::from_millis(200 + rand_u64() % 1500);
        let crash = async {
            tokio::time::sleep(at).await;
            c.kill(victim).await;
            tokio::time::sleep(down).await;
            c.restart(victim).await;
        };
        let (batch, ()) = tokio::join!(c.create_bots(per_trial, 16), crash);
        kills.push(format!(
            "trial {trial}: replica {victim} killed at {} ms, down {} ms",
            at.as_millis(),
            down.as_millis()
        ));
        ids.extend(batch);
    }
    // Everything settles: every bot ends (none is legitimately waiting with GLOBAL_QUEUE_TIMEOUT
    // of an hour and room on every platform, so the wait is for all of them).
    let ended = c.wait_until_none(&ids, &NOT_ENDED, Duration::from_secs(if full() { 3600 } else { 240 })).await;
    let list = id_list(&ids);
    let statuses = c.statuses(&ids).await;
    let done = statuses.iter().find(|(s, _)| s == "DONE").map_or(0, |(_, n)| *n);
    let fatal_with_reason = c
        .count(&format!(
            "SELECT count(*) AS n FROM bots b WHERE id IN ({list}) AND status = 'FATAL' AND EXISTS \
             (SELECT 1 FROM events e WHERE e.bot_id = b.id AND e.event_type = 'FATAL' \
              AND COALESCE(e.data->>'sub_code', e.data->>'description', '') <> '')"
        ))
        .await;
    let waiting = c
        .count(&format!("SELECT count(*) AS n FROM bots WHERE id IN ({list}) AND status IN ('QUEUED','SCHEDULED')"))
        .await;
    let lost = ids.len() as i64 - done - fatal_with_reason - waiting;
    // The fleet's counts before the planted orphans below add to them.
    let stats = c.stats();
    let seen = sampler.finish().await;
    // Two planted orphans the reconciler has to find too (so this check can fail): a resource
    // naming a finished bot, and one naming no bot, both hanging on a server that never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let plant = |platform, bot_id| {
        let launch = Launch { bot_id, milo_url: silent_url.clone(), token: "mbt_planted".into() };
        (platform, c.fleet.launch(platform, launch).expect("plant an orphan"))
    };
    let planted = [plant(DeploymentPlatform::Aws, ids[0]), plant(DeploymentPlatform::Coolify, 999_999_999)];
    // Within a reconcile pass (10 s, plus a pass in flight) no orphan may run, and the planted
    // ones are deleted (a resource that merely exited would stay listed).
    let planted_left = || planted.iter().filter(|(p, id)| c.fleet.resource(*p, id).is_some()).count();
    let at = Instant::now();
    let mut orphaned = orphans(&c).await;
    while (!orphaned.is_empty() || planted_left() > 0) && at.elapsed() < Duration::from_secs(25) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        orphaned = orphans(&c).await;
    }
    let cleared = at.elapsed();
    drop(silent);

    t.info("bots", ids.len());
    t.info("fleet resources running when all had ended", format!("{:?}", stats.running));
    t.info("statuses", format!("{statuses:?}"));
    t.check("bots lost (not DONE, not FATAL with a reason, not waiting)", lost, "0", ended && lost == 0);
    t.info("bots FATAL with a reason", fatal_with_reason);
    t.check("bots with 2 resources at once (fleet duplicates)", stats.duplicates, "0", stats.duplicates == 0);
    t.info("bots launched more than once (fleet relaunched)", stats.relaunched);
    t.check(
        "orphaned resources running 25 s after all ended (with 2 planted)",
        orphaned.len(),
        "0",
        orphaned.is_empty(),
    );
    t.check("planted orphans not deleted", planted_left(), "0", planted_left() == 0);
    t.info("all orphans gone after", ms(cleared));
    t.info("bot requests that failed (retried or ended a bot)", stats.meter.failed_requests);
    limit_checks(&mut t, &seen, &stats, limits);
    t.info("wall time", ms(started.elapsed()));
    for k in kills {
        t.note(k);
    }
    t.note(format!(
        "duplicate bots: {:?}; relaunched: {:?}; orphans: {orphaned:?}",
        stats.duplicate_bots, stats.relaunched_bots
    ));
    t.note(format!("replica logs: {}", c.logs()));
    t.finish();
}

/// 4. A bot that stops heartbeating is FATAL (HEARTBEAT_TIMEOUT) and its resource stopped, with
/// the teardown confirmed, within the heartbeat timeout plus one reconcile period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_a_silent_bot_is_failed_and_its_resource_released() {
    let started = Instant::now();
    let (n, silenced) = if full() { (40, 20) } else { (3, 1) };
    let timeout = Duration::from_millis(3000);
    let reconcile = Duration::from_secs(10);
    let mut opts = options(2, [20, 20, 20], bots(120.0));
    opts.heartbeat_timeout_ms = timeout.as_millis() as u64;
    let c = Cluster::start("heartbeat", opts).await;
    let mut t = Table::new("heartbeat loss", format!("{}: {silenced} of {n} bots silenced, 2 replicas", size_name()));
    let ids = c.create_bots(n, 8).await;
    let in_call = c
        .wait_until_none(
            &ids,
            &["SCHEDULED", "QUEUED", "DEPLOYING", "JOINING_CALL", "IN_WAITING_ROOM"],
            Duration::from_secs(60),
        )
        .await;
    assert!(in_call, "bots never all reached IN_CALL: {:?}", c.statuses(&ids).await);
    let quiet = &ids[..silenced];
    let where_: HashMap<i64, (DeploymentPlatform, String)> = c
        .pairs(&format!(
            "SELECT deployment_platform || ' ' || platform_identifier AS k, id AS n FROM bots WHERE id IN ({})",
            id_list(quiet)
        ))
        .await
        .into_iter()
        .map(|(k, id)| {
            let (p, ident) = k.split_once(' ').unwrap();
            (id, (DeploymentPlatform::parse(p).unwrap(), ident.to_owned()))
        })
        .collect();
    let at = Instant::now();
    for id in quiet {
        assert_eq!(c.fleet.silence(*id), 1, "bot {id} runs on the fleet host");
    }
    let limit = timeout + reconcile;
    let mut fatal_at: HashMap<i64, Duration> = HashMap::new();
    let mut gone_at: HashMap<i64, Duration> = HashMap::new();
    while (fatal_at.len() < silenced || gone_at.len() < silenced) && at.elapsed() < limit + Duration::from_secs(20) {
        let fatal = c
            .pairs(&format!(
                "SELECT status AS k, id AS n FROM bots WHERE id IN ({}) AND status = 'FATAL' AND resource_stopped_at IS NOT NULL",
                id_list(quiet)
            ))
            .await;
        for (_, id) in fatal {
            fatal_at.entry(id).or_insert_with(|| at.elapsed());
        }
        for (id, (platform, ident)) in &where_ {
            if !matches!(c.fleet.resource(*platform, ident), Some((_, Run::Running))) {
                gone_at.entry(*id).or_insert_with(|| at.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reason = c
        .count(&format!(
            "SELECT count(*) AS n FROM events WHERE bot_id IN ({}) AND event_type = 'FATAL' AND data->>'sub_code' = 'HEARTBEAT_TIMEOUT'",
            id_list(quiet)
        ))
        .await;
    let others_alive = c
        .count(&format!(
            "SELECT count(*) AS n FROM bots WHERE id IN ({}) AND status = 'IN_CALL'",
            id_list(&ids[silenced..])
        ))
        .await;
    let worst_fatal = fatal_at.values().max().copied();
    let worst_gone = gone_at.values().max().copied();
    let goal = format!("<= {} ms", limit.as_millis());
    t.check(
        "silence -> FATAL with teardown recorded, max",
        worst_fatal.map_or("never".into(), ms),
        goal.clone(),
        fatal_at.len() == silenced && worst_fatal.is_some_and(|d| d <= limit),
    );
    t.check(
        "silence -> resource gone or exited (fleet), max",
        worst_gone.map_or("never".into(), ms),
        goal,
        gone_at.len() == silenced && worst_gone.is_some_and(|d| d <= limit),
    );
    t.check("FATAL events with sub-code HEARTBEAT_TIMEOUT", reason, format!("{silenced}"), reason == silenced as i64);
    t.check(
        "bots still heartbeating that stay IN_CALL",
        others_alive,
        format!("{}", n - silenced),
        others_alive == (n - silenced) as i64,
    );
    t.info("wall time", ms(started.elapsed()));
    t.note(format!("replica logs: {}", c.logs()));
    t.finish();
}
