//! Exactly once when etcd's answer is lost: an `EtcdStore` talks to etcd through a TCP proxy
//! that can swallow what flows one way and then cut the connection, so a write's outcome is
//! unknown to the writer. A write that applied is recognised by its receipt (not applied again);
//! a write that never arrived is sent again (applied once).

mod common;

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use certslot::{Password, Store};
use certslot_etcd::{Cluster, Connection, EtcdStore};
use common::{Etcd, PASSWORD, ROOT, options_as, wait_until};

const PASS: u8 = 0;
const SWALLOW_ANSWERS: u8 = 1;
const SWALLOW_REQUESTS: u8 = 2;

/// A TCP proxy in front of etcd.
struct Proxy {
    port: u16,
    mode: Arc<AtomicU8>,
    swallowed: Arc<AtomicUsize>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(PASS));
        let swallowed = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let (m, s, c) = (Arc::clone(&mode), Arc::clone(&swallowed), Arc::clone(&connections));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                c.lock().unwrap().extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                pump(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    Arc::clone(&m),
                    SWALLOW_REQUESTS,
                    Arc::clone(&s),
                );
                pump(server, client, Arc::clone(&m), SWALLOW_ANSWERS, Arc::clone(&s));
            }
        });
        Self { port, mode, swallowed, connections }
    }

    fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn set(&self, mode: u8) {
        self.swallowed.store(0, Ordering::SeqCst);
        self.mode.store(mode, Ordering::SeqCst);
    }

    /// Cuts every connection and lets traffic pass again.
    fn cut(&self) {
        for stream in self.connections.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        self.mode.store(PASS, Ordering::SeqCst);
    }
}

/// Copies `from` to `to`, dropping the bytes while the mode is `swallow`.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    mode: Arc<AtomicU8>,
    swallow: u8,
    swallowed: Arc<AtomicUsize>,
) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if mode.load(Ordering::SeqCst) == swallow {
                swallowed.fetch_add(n, Ordering::SeqCst);
                continue;
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

fn port_of(endpoint: &str) -> u16 {
    endpoint.rsplit(':').next().unwrap().parse().unwrap()
}

async fn store_at(endpoint: &str) -> EtcdStore {
    let options = options_as(ROOT).request_timeout(Duration::from_secs(2));
    let conn = Connection::connect(&[endpoint.to_owned()], options).await.unwrap();
    EtcdStore::new(conn, Cluster::new("answers").unwrap(), Some(Password::new(PASSWORD)))
}

#[test]
fn a_write_whose_answer_is_lost_applies_exactly_once() {
    let etcd = Etcd::start();
    let proxy = Proxy::start(port_of(&etcd.endpoint()));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let direct = rt.block_on(store_at(&etcd.endpoint()));
    let proxied = rt.block_on(store_at(&proxy.endpoint()));
    let start = rt.block_on(direct.create(&Store::new())).unwrap().store.revision();
    let revision = |rt: &tokio::runtime::Runtime| rt.block_on(direct.load()).unwrap().store.revision();
    // One update through the proxy: connected, and the proxied store caches the state.
    assert_eq!(rt.block_on(proxied.update(|s| s.add_site("first"))).unwrap().revision, start + 1);

    // The write reaches etcd and applies; its answer is swallowed, then the connection cut.
    proxy.set(SWALLOW_ANSWERS);
    let update = rt.spawn(async move {
        let updated = proxied.update(|s| s.add_site("answer-lost")).await;
        (proxied, updated)
    });
    wait_until("the write applied in etcd", Duration::from_secs(10), || revision(&rt) == start + 2);
    proxy.cut();
    let (proxied, updated) = rt.block_on(update).unwrap();
    let updated = updated.unwrap();
    assert!(updated.recovered, "settled by its receipt");
    assert_eq!((updated.revision, updated.attempts), (start + 2, 1));

    // The write is swallowed on its way: it never applied, so it is sent again, once.
    proxy.set(SWALLOW_REQUESTS);
    let update = rt.spawn(async move { proxied.update(|s| s.add_site("request-lost")).await });
    wait_until("the write went into the void", Duration::from_secs(10), || {
        proxy.swallowed.load(Ordering::SeqCst) > 0
    });
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(revision(&rt), start + 2, "nothing applied");
    proxy.cut();
    let updated = rt.block_on(update).unwrap().unwrap();
    assert!(!updated.recovered);
    assert_eq!((updated.revision, updated.attempts), (start + 3, 1), "the same write, sent again");

    let stored = rt.block_on(direct.load()).unwrap().store;
    assert_eq!(stored.revision(), start + 3);
    assert_eq!(stored.topology().sites().collect::<Vec<_>>(), ["answer-lost", "first", "request-lost"]);
}
