//! Prism (npm `@stoplight/prism-cli`, installed into end2end/node_modules by .config/setup.sh from end2end/package.json)
//! serving Coolify's official OpenAPI document in proxy mode with `--errors`: it validates every
//! request against the document (an invalid one is answered 422 and never forwarded), forwards
//! valid ones to the fake behind it, and validates the fake's answer too (an invalid answer
//! becomes a 500). Each test starts its own on a free 127.0.0.1 port; it is killed when the
//! test drops it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// Coolify's document, copied into the project (server/tests/peers/coolify/README.md).
pub fn coolify_document() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/coolify/openapi.json")
}

fn prism_binary() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../end2end/node_modules/.bin/prism");
    assert!(
        path.exists(),
        "Prism is not installed at {}: run .config/setup.sh (its npm install in end2end/ installs @stoplight/prism-cli)",
        path.display()
    );
    path
}

/// A running Prism proxy.
pub struct Prism {
    _child: tokio::process::Child,
    pub url: String,
    log: PathBuf,
}

impl Prism {
    /// Starts Prism in front of `upstream`, validating against `document`; waits until it
    /// listens.
    pub async fn proxy(document: PathBuf, upstream: &str) -> Prism {
        let port = crate::support::free_port();
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("prism-{port}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = tokio::process::Command::new(prism_binary())
            .arg("proxy")
            .arg(&document)
            .arg(upstream)
            .args(["--errors", "-h", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .expect("start prism");
        let prism = Prism { _child: child, url: format!("http://127.0.0.1:{port}"), log };
        for _ in 0..600 {
            if prism.log_text().contains("Prism is listening") {
                return prism;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("Prism did not start within 60 s:\n{}", prism.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The requests and answers Prism found invalid against the document.
    pub fn violations(&self) -> Vec<String> {
        self.log_text().lines().filter(|l| l.contains("Violation") || l.contains('✖')).map(str::to_owned).collect()
    }

    /// The violations, once Prism has logged at least one (it logs after answering); empty
    /// after `within`.
    pub async fn await_violations(&self, within: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let v = self.violations();
            if !v.is_empty() || tokio::time::Instant::now() >= deadline {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fails the test when Prism found anything invalid (waiting a moment for its log).
    pub async fn assert_clean(&self) {
        let v = self.await_violations(Duration::from_millis(500)).await;
        assert!(v.is_empty(), "Prism found requests or answers that break Coolify's document:\n{}", v.join("\n"));
    }
}
