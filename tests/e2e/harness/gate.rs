//! A TCP relay in front of the API server that holds every connection until it is opened: a
//! process configured through it cannot reach the API server meanwhile, and then can.
//!
//! TLS passes through untouched (the relay listens on 127.0.0.1 too, which the API server's
//! certificate names), so the client sees the real server once the gate opens.

use std::path::PathBuf;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::Env;

pub struct ApiGate {
    open: watch::Sender<bool>,
    /// `https://127.0.0.1:PORT` of the relay.
    pub server: String,
    relay: tokio::task::JoinHandle<()>,
}

impl ApiGate {
    /// A closed gate in front of `upstream` (`https://127.0.0.1:PORT`).
    pub async fn closed(upstream: &str) -> ApiGate {
        let upstream = upstream
            .strip_prefix("https://")
            .expect("an https:// API server")
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the gate");
        let server = format!("https://{}", listener.local_addr().expect("gate address"));
        let (open, opened) = watch::channel(false);
        let relay = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut opened = opened.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if opened.wait_for(|open| *open).await.is_err() {
                        return;
                    }
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        ApiGate { open, server, relay }
    }

    /// Lets held and new connections through.
    pub fn open(&self) {
        self.open.send_replace(true);
    }

    /// The operator user's kubeconfig, pointed at this gate.
    pub fn kubeconfig(&self, env: &Env) -> PathBuf {
        let original = std::fs::read_to_string(&env.plane.operator_kubeconfig).expect("operator kubeconfig");
        let through_gate = original.replace(
            &format!("server: {}", env.plane.server),
            &format!("server: {}", self.server),
        );
        assert_ne!(through_gate, original, "the kubeconfig names {}", env.plane.server);
        let path = env.dir.join("operator-through-gate.kubeconfig");
        std::fs::write(&path, through_gate).expect("write the gated kubeconfig");
        path
    }
}

impl Drop for ApiGate {
    fn drop(&mut self) {
        self.relay.abort();
    }
}
