//! Sync against the real pulseboard-server (protocol version 2 on the server
//! side: `serverId`, read catch-up): the scenarios of issue #13 that need the
//! real store.

mod common;

use common::*;
use pulseboard_core::TransportMode;
use pulseboard_protocol::MarkRead;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_of_one_viewer_the_cut_off_one_shows_the_others_read_after_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir.path().join("s.db"), Some("tok")).await;
    let http = Http::new(&srv.url(), Some("tok"));
    let first = http.notify("first").await;
    http.notify("second").await;
    let proxy = Proxy::start(srv.addr).await;
    let mut a = start(config(&proxy.url(), TransportMode::Websocket, Some("tok")));
    let mut b = start(config(&srv.url(), TransportMode::Websocket, Some("tok")));
    until_state(&mut a.rx, "live").await;
    until_state(&mut b.rx, "live").await;
    assert_eq!(a.store.read(|s| s.unread_count), 2);

    // A is cut off: the proxy stops forwarding (no FIN, no RST).
    proxy.set(Mode::Blackhole);
    until_state(&mut a.rx, "reconnecting").await;
    // Meanwhile B reads the first one.
    let id = first["id"].as_str().unwrap().to_string();
    b.client.mark_read(MarkRead::Ids(vec![id.clone()]));
    until_event(&mut b.rx, "notification:read").await;
    assert_eq!(http.snapshot().await["unreadCount"], 1);

    proxy.set(Mode::Forward);
    let read = until_event(&mut a.rx, "notification:read").await;
    assert_eq!(read["ids"], serde_json::json!([id]));
    until_state(&mut a.rx, "live").await;
    let shown = shown(&a.store);
    assert_eq!(
        shown,
        vec![("first".into(), true), ("second".into(), false)]
    );
    assert_eq!(
        a.store.read(|s| s.unread_count),
        http.snapshot().await["unreadCount"].as_u64().unwrap(),
        "the server's unread count"
    );
    a.client.shutdown().await;
    b.client.shutdown().await;
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_across_a_server_swap_on_the_same_address_fresh_database_shows_every_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let old = server(&dir.path().join("old.db"), None).await;
    let http = Http::new(&old.url(), None);
    for i in 1..=5 {
        http.notify(&format!("old {i}")).await;
    }
    let proxy = Proxy::start(old.addr).await;
    let mut c = start(config(&proxy.url(), TransportMode::Websocket, None));
    until_state(&mut c.rx, "live").await;
    assert_eq!(c.store.read(|s| s.last_seq), 5);

    // Replaced by a server with a fresh database, on the same address.
    proxy.set(Mode::Refuse);
    until_state(&mut c.rx, "reconnecting").await;
    old.stop().await.unwrap();
    let new = server(&dir.path().join("new.db"), None).await;
    let http = Http::new(&new.url(), None);
    http.notify("new 1").await;
    http.notify("new 2").await;
    proxy.retarget(new.addr);
    proxy.set(Mode::Forward);
    until_state(&mut c.rx, "live").await;
    http.notify("new 3").await;
    let store = c.store.clone();
    until(&mut c.rx, "new 3", |_| {
        store
            .read(|s| s.notifications.iter().any(|n| n.title == "new 3"))
            .then_some(())
    })
    .await;
    let titles: Vec<String> = c
        .store
        .read(|s| s.notifications.iter().map(|n| n.title.clone()).collect());
    assert_eq!(titles, vec!["new 1", "new 2", "new 3"]);
    assert_eq!(c.store.read(|s| s.unread_count), 3);
    c.client.shutdown().await;
    new.stop().await.unwrap();
}

/// The server's database restored from a backup: the same `serverId`, but
/// its seqs went back. New notifications get the seqs (and ids) of ones the
/// client saw before the restore, and must be shown all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_restored_from_a_backup_shows_every_new_notification() {
    let dir = tempfile::tempdir().unwrap();
    let live_db = dir.path().join("live.db");
    let backup_db = dir.path().join("backup.db");
    let srv = server(&live_db, None).await;
    let http = Http::new(&srv.url(), None);
    for t in ["one", "two", "three"] {
        http.notify(t).await;
    }
    srv.stop().await.unwrap();
    // The backup: the database files as they are now (seq 3).
    for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(rest) = name.strip_prefix("live.db") {
            std::fs::copy(e.path(), dir.path().join(format!("backup.db{rest}"))).unwrap();
        }
    }
    let srv = server(&live_db, None).await;
    let http = Http::new(&srv.url(), None);
    http.notify("four").await;
    http.notify("five").await;
    let proxy = Proxy::start(srv.addr).await;
    let mut c = start(config(&proxy.url(), TransportMode::Websocket, None));
    until_state(&mut c.rx, "live").await;
    assert_eq!(c.store.read(|s| s.last_seq), 5);
    let server_id = c.store.read(|s| s.server_id.clone());

    // The server comes back with the backup, on the same address.
    proxy.set(Mode::Refuse);
    until_state(&mut c.rx, "reconnecting").await;
    srv.stop().await.unwrap();
    let restored = server(&backup_db, None).await;
    let http = Http::new(&restored.url(), None);
    proxy.retarget(restored.addr);
    proxy.set(Mode::Forward);
    until_state(&mut c.rx, "live").await;
    assert_eq!(
        c.store.read(|s| s.server_id.clone()),
        server_id,
        "the same store"
    );
    let n = http.notify("after the restore").await;
    assert_eq!(n["seq"], 4, "the restored store gives seq 4 again");
    let store = c.store.clone();
    until(&mut c.rx, "the new one shown", |_| {
        store
            .read(|s| {
                s.notifications
                    .iter()
                    .any(|n| n.title == "after the restore")
            })
            .then_some(())
    })
    .await;
    let titles: Vec<String> = c
        .store
        .read(|s| s.notifications.iter().map(|n| n.title.clone()).collect());
    assert_eq!(titles, vec!["one", "two", "three", "after the restore"]);
    assert_eq!(
        c.store.read(|s| s.unread_count),
        http.snapshot().await["unreadCount"].as_u64().unwrap()
    );
    c.client.shutdown().await;
    restored.stop().await.unwrap();
}
