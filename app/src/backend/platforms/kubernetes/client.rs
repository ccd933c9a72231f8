//! The thin I/O layer over the Kubernetes API: each call has a timeout and answers a
//! `PlatformError` of the right kind. Objects come from `build`; nothing here decides.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod, Secret};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Api;

use super::errors::{map, timed_out};
use super::view::PodMetrics;
use crate::backend::platforms::{ErrorKind, PlatformError};

/// No API call may take longer than this.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Jobs per page when listing.
pub const PAGE_SIZE: u32 = 100;

/// The API of one namespace.
#[derive(Clone)]
pub struct Kube {
    client: kube::Client,
    namespace: String,
}

async fn call<T>(
    what: impl Into<String>,
    fut: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, PlatformError> {
    let what = what.into();
    match tokio::time::timeout(CALL_TIMEOUT, fut).await {
        Ok(result) => result.map_err(|e| map(&what, e)),
        Err(_) => Err(timed_out(&what, CALL_TIMEOUT)),
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

impl Kube {
    pub fn new(client: kube::Client, namespace: impl Into<String>) -> Self {
        Kube { client, namespace: namespace.into() }
    }

    fn jobs(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The cheapest read that needs the same permission as the driver's listing: one Job.
    pub async fn probe(&self) -> Result<(), PlatformError> {
        let what = format!("list Jobs in namespace {}", self.namespace);
        call(what, self.jobs().list_metadata(&ListParams::default().limit(1))).await.map(|_| ())
    }

    pub async fn create_secret(&self, secret: &Secret) -> Result<(), PlatformError> {
        let name = secret.metadata.name.clone().unwrap_or_default();
        call(format!("create Secret {name}"), self.secrets().create(&PostParams::default(), secret)).await.map(|_| ())
    }

    pub async fn create_job(&self, job: &Job) -> Result<Job, PlatformError> {
        let name = job.metadata.name.clone().unwrap_or_default();
        call(format!("create Job {name}"), self.jobs().create(&PostParams::default(), job)).await
    }

    /// Makes the Job the owner of the Secret (a merge patch of its ownerReferences).
    pub async fn patch_secret(&self, name: &str, patch: &serde_json::Value) -> Result<(), PlatformError> {
        let p = Patch::Merge(patch);
        call(format!("patch Secret {name}"), self.secrets().patch(name, &PatchParams::default(), &p)).await.map(|_| ())
    }

    /// Deletes a Job and, through background propagation, its pods. A missing Job is success.
    pub async fn delete_job(&self, name: &str) -> Result<(), PlatformError> {
        let r = call(format!("delete Job {name}"), self.jobs().delete(name, &DeleteParams::background())).await;
        found(r).map(|_| ())
    }

    /// Deletes a Secret. A missing Secret is success.
    pub async fn delete_secret(&self, name: &str) -> Result<(), PlatformError> {
        let r = call(format!("delete Secret {name}"), self.secrets().delete(name, &DeleteParams::default())).await;
        found(r).map(|_| ())
    }

    pub async fn job(&self, name: &str) -> Result<Option<Job>, PlatformError> {
        found(call(format!("read Job {name}"), self.jobs().get(name)).await)
    }

    /// The Job's newest pod.
    pub async fn job_pod(&self, job_name: &str) -> Result<Option<Pod>, PlatformError> {
        let lp = ListParams::default().labels(&super::build::pods_selector(job_name));
        let pods = call(format!("list pods of Job {job_name}"), self.pods().list(&lp)).await?;
        Ok(pods.items.into_iter().max_by(|a, b| a.metadata.creation_timestamp.cmp(&b.metadata.creation_timestamp)))
    }

    /// Every Job matching `selector`, following `continue` tokens page by page.
    pub async fn list_jobs(&self, selector: &str) -> Result<Vec<Job>, PlatformError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut lp = ListParams::default().labels(selector).limit(PAGE_SIZE);
            if let Some(t) = &token {
                lp = lp.continue_token(t);
            }
            let page = call("list Jobs", self.jobs().list(&lp)).await?;
            all.extend(page.items);
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(all);
            }
        }
    }

    /// The events about one object (a Job or a pod), by field selector.
    pub async fn events(&self, object_name: &str) -> Result<Vec<Event>, PlatformError> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), &self.namespace);
        let lp = ListParams::default().fields(&super::build::events_selector(object_name));
        Ok(call(format!("list events of {object_name}"), api.list(&lp)).await?.items)
    }

    /// The pod's live usage from `metrics.k8s.io`; `Ok(None)` when the metrics API is not
    /// installed or has no numbers for the pod yet.
    pub async fn pod_metrics(&self, pod_name: &str) -> Result<Option<PodMetrics>, PlatformError> {
        let path = format!("/apis/metrics.k8s.io/v1beta1/namespaces/{}/pods/{pod_name}", self.namespace);
        let request = http::Request::get(path)
            .body(Vec::new())
            .map_err(|e| PlatformError::rejected(format!("metrics request for {pod_name}: {e}")))?;
        match call(format!("read metrics of pod {pod_name}"), self.client.request::<PodMetrics>(request)).await {
            Ok(m) => Ok(Some(m)),
            // No metrics-server (404), or its APIService is down (503): absent, not an error.
            Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Unavailable) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
