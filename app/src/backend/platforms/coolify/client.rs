//! The thin I/O layer over Coolify's API (`COOLIFY_API_URL`, e.g. `https://host/api/v1`):
//! `Authorization: Bearer COOLIFY_API_TOKEN` (never logged), JSON in and out, no redirects, a
//! connect timeout, a timeout per call and a cap on the size of an answer. Each call answers a
//! `PlatformError` of the right kind; nothing here decides.
//!
//! The calls, and only these (a fake for the browser tests implements the same list):
//! `GET /version`, `GET /projects/{project}/{environment}`, `POST /applications/dockerimage`,
//! `PATCH /applications/{uuid}/envs/bulk`, `PATCH /applications/{uuid}`,
//! `POST /applications/{uuid}/start` (GET before Coolify 4.2), `GET /deployments/{uuid}`,
//! `GET /deployments/applications/{uuid}?take=1`, `GET /applications/{uuid}`,
//! `POST /applications/{uuid}/stop` (GET before 4.2), `GET /applications`,
//! `DELETE /applications/{uuid}?delete_configurations=true&...`.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::errors::{from_status, transport};
use crate::backend::platforms::{ErrorKind, PlatformError};

/// Connecting to Coolify may take this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// No call may take longer than this.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// The largest answer read (the list of every application of a big server fits).
pub const MAX_BODY: usize = 8 * 1024 * 1024;
/// Slot applications are named `pool-…`.
pub const POOL_PREFIX: &str = "pool-";

/// An application as Coolify describes it (the fields Meeboter reads).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Application {
    pub uuid: String,
    pub name: String,
    /// `running:healthy`, `exited:unhealthy`, `starting`, ...
    pub status: Option<String>,
    pub description: Option<String>,
    pub docker_registry_image_name: Option<String>,
    pub docker_registry_image_tag: Option<String>,
    pub limits_cpus: Option<String>,
    pub limits_memory: Option<String>,
}

/// A deployment (Coolify's `ApplicationDeploymentQueue`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Deployment {
    pub deployment_uuid: String,
    /// `queued`, `in_progress`, `finished`, `failed`, `cancelled-by-user`.
    pub status: String,
    /// When Coolify queued it (`2026-11-30T09:00:00.000000Z`).
    pub created_at: Option<String>,
}

/// What starting an application answered.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Started {
    deployment_uuid: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Created {
    uuid: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct EnvironmentObject {
    uuid: Option<String>,
}

/// `GET /deployments/applications/{uuid}`: `{count, deployments}` on real servers, a bare list
/// in the document.
#[derive(Deserialize)]
#[serde(untagged)]
enum DeploymentList {
    Paged { deployments: Vec<Deployment> },
    Bare(Vec<Deployment>),
}

/// Coolify's API with one token.
#[derive(Clone)]
pub struct CoolifyApi {
    http: reqwest::Client,
    base: String,
    token: SecretString,
}

/// A path segment Meeboter puts in a URL: a UUID or a name of letters, digits, `-`, `_`, `.`.
fn segment(what: &str, s: &str) -> Result<String, PlatformError> {
    if !s.is_empty() && s.len() <= 200 && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        Ok(s.to_owned())
    } else {
        Err(PlatformError::rejected(format!("{what}: '{s}' is not a Coolify identifier")))
    }
}

/// `Ok(None)` for a 404.
fn found<T>(r: Result<T, PlatformError>) -> Result<Option<T>, PlatformError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl CoolifyApi {
    /// A client for `base` (`https://host/api/v1`); no request is made.
    pub fn new(base: &Url, token: SecretString) -> Result<Self, PlatformError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("meeboter/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PlatformError::new(ErrorKind::Misconfigured, format!("Coolify HTTP client: {e}")))?;
        Ok(CoolifyApi { http, base: base.as_str().trim_end_matches('/').to_owned(), token })
    }

    /// One call: the answer's status and body (at most [`MAX_BODY`]), or why there is none.
    async fn send(
        &self,
        what: &str,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Vec<u8>), PlatformError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let mut response = request.send().await.map_err(|e| transport(what, &e, CALL_TIMEOUT))?;
        let status = response.status();
        if response.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            return Err(PlatformError::unavailable(format!("{what}: the answer is larger than {MAX_BODY} bytes")));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| transport(what, &e, CALL_TIMEOUT))? {
            if bytes.len() + chunk.len() > MAX_BODY {
                return Err(PlatformError::unavailable(format!("{what}: the answer is larger than {MAX_BODY} bytes")));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok((status, bytes))
    }

    /// A call that must succeed, its JSON answer read as `T`.
    async fn json<T: DeserializeOwned>(
        &self,
        what: &str,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<T, PlatformError> {
        let (status, bytes) = self.send(what, method, path, query, body).await?;
        if !status.is_success() {
            return Err(from_status(what, status.as_u16(), &bytes));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| PlatformError::unavailable(format!("{what}: Coolify's answer is not what was expected: {e}")))
    }

    /// A start or a stop: POST since Coolify 4.2; an older server answers 405 and takes GET.
    async fn action<T: DeserializeOwned + Default>(&self, what: &str, path: &str) -> Result<T, PlatformError> {
        let (status, bytes) = self.send(what, Method::POST, path, &[], None).await?;
        let (status, bytes) = if status == StatusCode::METHOD_NOT_ALLOWED {
            self.send(what, Method::GET, path, &[], None).await?
        } else {
            (status, bytes)
        };
        if !status.is_success() {
            return Err(from_status(what, status.as_u16(), &bytes));
        }
        Ok(serde_json::from_slice(&bytes).unwrap_or_default())
    }

    /// Coolify's version (`GET /version`, a plain-text answer).
    pub async fn version(&self) -> Result<String, PlatformError> {
        let what = "read the Coolify version";
        let (status, bytes) = self.send(what, Method::GET, "/version", &[], None).await?;
        if !status.is_success() {
            return Err(from_status(what, status.as_u16(), &bytes));
        }
        Ok(String::from_utf8_lossy(&bytes).trim().trim_matches('"').to_owned())
    }

    /// The UUID of environment `name` of project `project` (`None` when Coolify does not say).
    pub async fn environment_uuid(&self, project: &str, name: &str) -> Result<Option<String>, PlatformError> {
        let what = format!("read environment {name} of project {project}");
        let path = format!("/projects/{}/{}", segment(&what, project)?, segment(&what, name)?);
        let env: EnvironmentObject = self.json(&what, Method::GET, &path, &[], None).await?;
        Ok(env.uuid.filter(|u| !u.is_empty()))
    }

    /// Creates a docker-image application; answers its UUID.
    pub async fn create_application(&self, name: &str, body: &Value) -> Result<String, PlatformError> {
        let what = format!("create application {name}");
        let created: Created = self.json(&what, Method::POST, "/applications/dockerimage", &[], Some(body)).await?;
        if created.uuid.is_empty() {
            return Err(PlatformError::unavailable(format!("{what}: Coolify answered no uuid")));
        }
        Ok(created.uuid)
    }

    /// Sets the application's environment variables (`{data: [{key, value, ...}]}`).
    pub async fn update_envs(&self, uuid: &str, body: &Value) -> Result<(), PlatformError> {
        let what = format!("set the environment of application {uuid}");
        let path = format!("/applications/{}/envs/bulk", segment(&what, uuid)?);
        self.json::<Value>(&what, Method::PATCH, &path, &[], Some(body)).await.map(|_| ())
    }

    /// Updates the application's description and limits.
    pub async fn update_application(&self, uuid: &str, body: &Value) -> Result<(), PlatformError> {
        let what = format!("update application {uuid}");
        let path = format!("/applications/{}", segment(&what, uuid)?);
        self.json::<Value>(&what, Method::PATCH, &path, &[], Some(body)).await.map(|_| ())
    }

    /// Starts (deploys) the application; answers the deployment's UUID when Coolify gives one.
    pub async fn start(&self, uuid: &str) -> Result<Option<String>, PlatformError> {
        let what = format!("start application {uuid}");
        let path = format!("/applications/{}/start", segment(&what, uuid)?);
        let started: Started = self.action(&what, &path).await?;
        Ok(started.deployment_uuid.filter(|d| !d.is_empty()))
    }

    /// Stops the application. An application that is not there is stopped.
    pub async fn stop(&self, uuid: &str) -> Result<(), PlatformError> {
        let what = format!("stop application {uuid}");
        let path = format!("/applications/{}/stop", segment(&what, uuid)?);
        found(self.action::<Value>(&what, &path).await).map(|_| ())
    }

    /// A deployment, `None` when Coolify does not know it.
    pub async fn deployment(&self, deployment_uuid: &str) -> Result<Option<Deployment>, PlatformError> {
        let what = format!("read deployment {deployment_uuid}");
        let path = format!("/deployments/{}", segment(&what, deployment_uuid)?);
        found(self.json(&what, Method::GET, &path, &[], None).await)
    }

    /// The application's newest deployment, if it has one.
    pub async fn latest_deployment(&self, uuid: &str) -> Result<Option<Deployment>, PlatformError> {
        let what = format!("list deployments of application {uuid}");
        let path = format!("/deployments/applications/{}", segment(&what, uuid)?);
        let list: Option<DeploymentList> = found(self.json(&what, Method::GET, &path, &[("take", "1")], None).await)?;
        Ok(match list {
            Some(DeploymentList::Paged { deployments }) | Some(DeploymentList::Bare(deployments)) => {
                deployments.into_iter().next()
            }
            None => None,
        })
    }

    /// The application, `None` when it is not there.
    pub async fn application(&self, uuid: &str) -> Result<Option<Application>, PlatformError> {
        let what = format!("read application {uuid}");
        let path = format!("/applications/{}", segment(&what, uuid)?);
        found(self.json(&what, Method::GET, &path, &[], None).await)
    }

    /// Every pool application (named `pool-…`).
    pub async fn list_pool(&self) -> Result<Vec<Application>, PlatformError> {
        let all: Vec<Application> = self.json("list applications", Method::GET, "/applications", &[], None).await?;
        Ok(all.into_iter().filter(|a| super::build::is_slot_name(&a.name)).collect())
    }

    /// Deletes the application with its configuration, volumes and networks. An application
    /// that is not there is deleted.
    pub async fn delete(&self, uuid: &str) -> Result<(), PlatformError> {
        let what = format!("delete application {uuid}");
        let path = format!("/applications/{}", segment(&what, uuid)?);
        let query = [
            ("delete_configurations", "true"),
            ("delete_volumes", "true"),
            ("docker_cleanup", "true"),
            ("delete_connected_networks", "true"),
        ];
        found(self.json::<Value>(&what, Method::DELETE, &path, &query, None).await).map(|_| ())
    }
}
