//! A tiny round-robin TCP proxy in front of the replicas: the `MILO_URL` the bots use, as a load
//! balancer would be. Each connection goes to the next replica that accepts it, so a killed
//! replica is skipped and its bots reach a live one on their next request.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};

/// The proxy's table of backends (a slot per replica; `None` while it is down).
#[derive(Clone, Default)]
pub struct Proxy {
    backends: Arc<Mutex<Vec<Option<SocketAddr>>>>,
    next: Arc<AtomicUsize>,
    /// Connections no backend accepted.
    pub refused: Arc<AtomicUsize>,
}

impl Proxy {
    /// Listens on 127.0.0.1 (a free port) and answers the proxy and its URL.
    pub async fn start() -> (Proxy, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let proxy = Proxy::default();
        let p = proxy.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let p = p.clone();
                tokio::spawn(async move { p.forward(client).await });
            }
        });
        (proxy, url)
    }

    /// Sets replica `slot`'s address (`None`: down).
    pub fn set(&self, slot: usize, addr: Option<SocketAddr>) {
        let mut b = self.backends.lock().unwrap();
        if b.len() <= slot {
            b.resize(slot + 1, None);
        }
        b[slot] = addr;
    }

    async fn forward(&self, mut client: TcpStream) {
        let backends: Vec<SocketAddr> = self.backends.lock().unwrap().iter().flatten().copied().collect();
        if backends.is_empty() {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..backends.len() {
            let addr = backends[(start + i) % backends.len()];
            // A killed replica refuses at once; one that hangs is skipped after a second.
            let Ok(Ok(mut upstream)) =
                tokio::time::timeout(std::time::Duration::from_secs(1), TcpStream::connect(addr)).await
            else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = upstream.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            return;
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
    }
}
