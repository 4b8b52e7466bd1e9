//! Crash safety: `syncd serve` killed with SIGKILL in the middle of a write
//! load loses nothing it acknowledged. Runs on SQLite, and on PostgreSQL in
//! the test command's second pass.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::{Connection, QueryDsl, QueryableByName, RunQueryDsl};
use syncd::db;
use syncd::db::PoolSettings;
use syncd::db::queries::user_groups;

use crate::helpers::{Daemon, TestDatabase, id_of, insert_user, membership_xml};

/// Writers running at once, and the pairs each may create.
const WRITERS: usize = 4;
const PAIRS_EACH: usize = 150;

#[derive(Default)]
struct Acknowledged {
    /// Membership id -> (user, group), for every 201.
    created: HashMap<i64, (i64, i64)>,
    /// Ids whose DELETE answered 200.
    deleted: Vec<i64>,
    /// Ids whose DELETE was sent (it may have been done without an answer).
    delete_sent: Vec<i64>,
}

#[test]
fn sigkill_in_the_middle_of_writes_loses_nothing_acknowledged() {
    let database = TestDatabase::new();
    let url = database.url.clone();
    let pool = db::open(&url, &PoolSettings::default()).expect("open the database");
    let (_, token) = insert_user(&pool, "manager", true, None);
    let users: Vec<i64> = (0..30)
        .map(|i| insert_user(&pool, &format!("user{i}"), false, None).0)
        .collect();
    let groups: Vec<i64> = {
        let mut conn = pool.get().unwrap();
        (0..20)
            .map(|i| {
                user_groups::create(&mut conn, &format!("group{i}"), None)
                    .unwrap()
                    .unwrap()
                    .id
            })
            .collect()
    };
    drop(pool);

    let daemon = Daemon::start(&url);
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (address, token, acked) = (daemon.address.clone(), token.clone(), acked.clone());
            let (users, groups) = (users.clone(), groups.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                for k in 0..PAIRS_EACH {
                    // Pairs of this writer only: no two writers collide.
                    let n = k * WRITERS + w;
                    let (user, group) = (users[n % users.len()], groups[n / users.len()]);
                    let sent = client
                        .post(format!("{address}/user-group-memberships.xml"))
                        .header("X-API-KEY", &token)
                        .header("Content-Type", "application/xml")
                        .body(membership_xml(user, group))
                        .send();
                    // Once syncd is killed, requests fail: stop there.
                    let Ok(r) = sent else { return };
                    if r.status().as_u16() != 201 {
                        return;
                    }
                    let Ok(body) = r.text() else { return };
                    let id = id_of(&body);
                    acked.lock().unwrap().created.insert(id, (user, group));
                    if k % 3 == 0 {
                        acked.lock().unwrap().delete_sent.push(id);
                        let sent = client
                            .delete(format!("{address}/user-group-memberships/{id}.xml"))
                            .header("X-API-KEY", &token)
                            .send();
                        match sent {
                            Ok(r) if r.status().as_u16() == 200 => {
                                acked.lock().unwrap().deleted.push(id)
                            }
                            _ => return,
                        }
                    }
                }
            })
        })
        .collect();

    // Kill it once a good number of writes are in, while writers still run.
    let started = Instant::now();
    while acked.lock().unwrap().created.len() < 60 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut daemon = daemon;
    daemon.child.kill().expect("SIGKILL syncd");
    daemon.child.wait().unwrap();
    let killed_at = acked.lock().unwrap().created.len();
    for w in writers {
        w.join().unwrap();
    }
    let acked = Arc::try_unwrap(acked).ok().unwrap().into_inner().unwrap();
    assert!(
        killed_at >= 60,
        "the load was running when syncd was killed"
    );
    assert!(
        acked.created.len() < WRITERS * PAIRS_EACH,
        "syncd was killed before the writers finished"
    );

    if let Some(path) = url.strip_prefix("sqlite://") {
        #[derive(QueryableByName)]
        struct Check {
            #[diesel(sql_type = diesel::sql_types::Text)]
            integrity_check: String,
        }
        let mut conn = diesel::sqlite::SqliteConnection::establish(path).unwrap();
        let checks: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
            .load(&mut conn)
            .unwrap();
        let checks: Vec<String> = checks.into_iter().map(|c| c.integrity_check).collect();
        assert_eq!(checks, ["ok"]);
    }

    let daemon = Daemon::start(&url);
    let client = reqwest::blocking::Client::new();
    let get = |id: i64| {
        let r = client
            .get(format!(
                "{}/user-group-memberships/{id}.xml",
                daemon.address
            ))
            .header("X-API-KEY", &token)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    for id in &acked.deleted {
        assert_eq!(get(*id).0, 404, "acknowledged delete of {id} is gone");
    }
    let mut kept = 0;
    for (id, (user, group)) in &acked.created {
        // A delete sent but not answered may or may not have happened.
        if acked.delete_sent.contains(id) {
            continue;
        }
        let (status, body) = get(*id);
        assert_eq!(status, 200, "acknowledged membership {id} is there");
        assert!(body.contains(&format!("<user-id type=\"integer\">{user}</user-id>")));
        assert!(body.contains(&format!(
            "<user-group-id type=\"integer\">{group}</user-group-id>"
        )));
        kept += 1;
    }
    assert!(kept > 0 && !acked.deleted.is_empty());
    assert_events_replay_to_the_memberships(&url);
    // And it takes writes again.
    let r = client
        .post(format!("{}/user-group-memberships.xml", daemon.address))
        .header("X-API-KEY", &token)
        .header("Content-Type", "application/xml")
        .body(membership_xml(users[29], groups[19]))
        .send()
        .unwrap();
    assert!(matches!(r.status().as_u16(), 201 | 422), "{}", r.status());
    drop(daemon);
    drop(database);
}

/// Replaying the events (each `added` puts its membership in, each
/// `removed` takes it out) gives exactly the memberships that are there:
/// no change was committed without its event, nor an event without its
/// change, whatever the kill interrupted.
fn assert_events_replay_to_the_memberships(url: &str) {
    use std::collections::BTreeMap;
    use syncd::db::schema::{membership_events as ev, user_group_memberships as ugm};
    let pool = db::open(url, &PoolSettings::default()).expect("open the database");
    let mut conn = pool.get().unwrap();
    let events: Vec<(String, i64, i64, i64)> = ev::table
        .order(ev::id)
        .select((
            ev::action,
            ev::membership_id,
            ev::user_id,
            ev::user_group_id,
        ))
        .load(&mut conn)
        .unwrap();
    let mut replayed = BTreeMap::new();
    for (action, membership, user, group) in &events {
        match action.as_str() {
            "added" => assert!(
                replayed.insert(*membership, (*user, *group)).is_none(),
                "membership {membership} added twice"
            ),
            "removed" => assert!(
                replayed.remove(membership).is_some(),
                "membership {membership} removed without being there"
            ),
            other => panic!("unknown action {other}"),
        }
    }
    let there: BTreeMap<i64, (i64, i64)> = ugm::table
        .select((ugm::id, (ugm::user_id, ugm::user_group_id)))
        .load::<(i64, (i64, i64))>(&mut conn)
        .unwrap()
        .into_iter()
        .collect();
    assert!(events.len() > there.len(), "some events were removals");
    assert_eq!(replayed, there, "the events replay to the memberships");
}
