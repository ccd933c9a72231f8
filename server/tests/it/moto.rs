//! moto_server, the AWS emulator (PyPI `moto[server]`, installed by .config/py-venv.sh into
//! target/py-venv), started on a free 127.0.0.1 port for one test and killed when dropped. It
//! speaks ECS's real awsJson1.1 protocol (docs/ECS_EMULATOR.md lists what it cannot do) and S3's
//! REST protocol (the recordings' bucket).

use std::process::Stdio;
use std::time::Duration;

use aws_sdk_ecs::types::{Compatibility, ContainerDefinition, NetworkMode};
use aws_sdk_ecs::Client;
use tokio::process::{Child, Command};

pub const REGION: &str = "us-east-1";
pub const CLUSTER: &str = "meeboter";
pub const PLATFORMS: [&str; 3] = ["google-meet", "microsoft-teams", "zoom"];

pub struct Moto {
    _child: Child,
    pub url: String,
}

fn venv_bin(name: &str) -> String {
    format!("{}/../target/py-venv/bin/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A fake SigV4 header naming `service`: moto routes a request by its credential scope and does
/// not check the signature.
fn auth_for(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0"
    )
}

impl Moto {
    pub async fn start() -> Moto {
        let bin = venv_bin("moto_server");
        assert!(
            std::path::Path::new(&bin).exists(),
            "{bin} is missing: run .config/py-venv.sh (it installs moto[server] into target/py-venv; ./dev test runs it first)"
        );
        let port = crate::support::free_port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("moto_server starts");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..300 {
            if http.get(format!("{url}/moto-api/")).send().await.is_ok_and(|r| r.status().is_success()) {
                let moto = Moto { _child: child, url };
                // Tasks stay where they are until a test moves them (moto's default moves a
                // task one step towards STOPPED on every DescribeTasks).
                moto.post_json(
                    "/moto-api/state-manager/set-transition",
                    serde_json::json!({"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1_000_000}}),
                )
                .await;
                return moto;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto_server did not answer on {url} within 30 s");
    }

    async fn post_json(&self, path: &str, body: serde_json::Value) {
        let r = reqwest::Client::new().post(format!("{}{path}", self.url)).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }

    /// Creates an S3 bucket (path-style, as Meeboter addresses S3 by default).
    pub async fn create_bucket(&self, name: &str) {
        let r = reqwest::Client::new()
            .put(format!("{}/{name}", self.url))
            .header("Authorization", auth_for("s3"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "creating bucket {name}: {}", r.status());
    }

    /// An ECS client of the test's own (static credentials, the emulator's endpoint).
    pub async fn ecs(&self) -> Client {
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&self.url)
            .credentials_provider(aws_sdk_ecs::config::Credentials::new("testing", "testing", None, None, "test"))
            .load()
            .await;
        Client::new(&shared)
    }

    /// One EC2 Query API call (XML answer), for what the ECS tests need from the VPC.
    async fn ec2(&self, form: &str) -> String {
        let r = reqwest::Client::new()
            .post(&self.url)
            .header("Authorization", auth_for("ec2"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("{form}&Version=2016-11-15"))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert!(status.is_success(), "EC2 {form}: {status}: {body}");
        body
    }

    /// The default VPC's subnets and default security group (moto makes them per region).
    pub async fn default_network(&self) -> (Vec<String>, String) {
        let subnets = xml_values(
            &self.ec2("Action=DescribeSubnets&Filter.1.Name=default-for-az&Filter.1.Value.1=true").await,
            "subnetId",
        );
        let groups = xml_values(
            &self.ec2("Action=DescribeSecurityGroups&Filter.1.Name=group-name&Filter.1.Value.1=default").await,
            "groupId",
        );
        assert!(!subnets.is_empty() && !groups.is_empty(), "moto has a default VPC");
        (subnets, groups[0].clone())
    }

    /// The cluster and one task definition per meeting platform (`meeboter-{platform}-bot`,
    /// its container `{platform}-bot`), as an operator would have them.
    pub async fn prepare_cluster(&self) {
        self.ecs().await.create_cluster().cluster_name(CLUSTER).send().await.unwrap();
        self.prepare_cluster_definitions().await;
    }

    pub async fn prepare_cluster_definitions(&self) {
        let ecs = self.ecs().await;
        for p in PLATFORMS {
            ecs.register_task_definition()
                .family(format!("meeboter-{p}-bot"))
                .requires_compatibilities(Compatibility::Fargate)
                .network_mode(NetworkMode::Awsvpc)
                .cpu("512")
                .memory("1024")
                .container_definitions(
                    ContainerDefinition::builder()
                        .name(format!("{p}-bot"))
                        .image(format!("ghcr.io/payme-works/meeboter-{p}-bot:latest"))
                        .memory(1024)
                        .essential(true)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        }
    }

    /// The variables of a Meeboter whose only platform is this emulator's ECS.
    pub async fn vars(&self) -> Vec<(String, String)> {
        let (subnets, group) = self.default_network().await;
        let mut v: Vec<(String, String)> = [
            ("PLATFORM_PRIORITY", "aws"),
            ("AWS_BOT_LIMIT", "200"),
            ("AWS_REGION", REGION),
            ("AWS_ENDPOINT_URL", &self.url),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_ECS_CLUSTER", CLUSTER),
            ("AWS_ECS_SUBNETS", &subnets.join(",")),
            ("AWS_ECS_SECURITY_GROUPS", &group),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for p in PLATFORMS {
            v.push((format!("AWS_ECS_TASK_DEF_{}", p.to_uppercase().replace('-', "_")), format!("meeboter-{p}-bot")));
        }
        v
    }
}

/// Every `<tag>value</tag>` in an XML text.
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open).skip(1).filter_map(|s| s.split_once(&close).map(|(v, _)| v.to_owned())).collect()
}
