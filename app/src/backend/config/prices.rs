//! Unit prices for the infrastructure page's cost estimates, in US dollars per bot-hour (per
//! slot-hour on Coolify). Each is configurable; the defaults follow public prices:
//!
//! - Kubernetes: the bot's CPU and memory requests (`K8S_BOT_CPU_REQUEST`,
//!   `K8S_BOT_MEMORY_REQUEST`) at AWS Fargate's Linux/x86 on-demand prices in us-east-1
//!   ([`FARGATE_USD_PER_VCPU_HOUR`], [`FARGATE_USD_PER_GB_HOUR`]), a fair stand-in for a node's
//!   share;
//! - AWS ECS: a 0.5 vCPU / 1 GB Fargate task at the same prices (the task definitions live in
//!   AWS, so their size is not known here);
//! - Coolify: $0.002 per slot-hour (the upstream's figure for a slot on a server you already pay for);
//! - local: free.

use super::parse::{ConfigErrors, Vars};
use super::platforms::K8sConfig;
use crate::backend::platforms::kubernetes::view::parse_quantity;
use crate::model::platform::DeploymentPlatform;

/// Fargate, Linux/x86, us-east-1, per vCPU-hour.
pub const FARGATE_USD_PER_VCPU_HOUR: f64 = 0.04048;
/// Fargate, Linux/x86, us-east-1, per GB-hour (Fargate's GB is 2^30 bytes).
pub const FARGATE_USD_PER_GB_HOUR: f64 = 0.004445;
/// The upstream's flat price of a Coolify slot.
pub const COOLIFY_USD_PER_SLOT_HOUR: f64 = 0.002;
/// The highest unit price accepted (a typo guard).
pub const MAX_USD_PER_HOUR: f64 = 1_000.0;

/// US dollars per hour a bot runs, per platform.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    pub k8s: f64,
    pub aws: f64,
    pub coolify: f64,
    pub local: f64,
}

impl Prices {
    /// The unit price of `platform`.
    pub fn hourly(&self, platform: DeploymentPlatform) -> f64 {
        match platform {
            DeploymentPlatform::K8s => self.k8s,
            DeploymentPlatform::Aws => self.aws,
            DeploymentPlatform::Coolify => self.coolify,
            DeploymentPlatform::Local => self.local,
        }
    }

    /// Reads `COST_*_USD_PER_*_HOUR`, defaulting as the module says.
    pub(super) fn read(vars: &Vars, errs: &mut ConfigErrors, k8s: &K8sConfig) -> Self {
        Prices {
            k8s: price(vars, errs, "COST_K8S_USD_PER_BOT_HOUR", k8s_default(&k8s.cpu_request, &k8s.memory_request)),
            aws: price(vars, errs, "COST_AWS_USD_PER_BOT_HOUR", fargate_hourly(0.5, 1.0)),
            coolify: price(vars, errs, "COST_COOLIFY_USD_PER_SLOT_HOUR", COOLIFY_USD_PER_SLOT_HOUR),
            local: price(vars, errs, "COST_LOCAL_USD_PER_BOT_HOUR", 0.0),
        }
    }

    /// (variable, value) rows for `meeboter config check`.
    pub(super) fn describe(&self, row: &mut impl FnMut(&str, String)) {
        row("COST_K8S_USD_PER_BOT_HOUR", format!("{:.5}", self.k8s));
        row("COST_AWS_USD_PER_BOT_HOUR", format!("{:.5}", self.aws));
        row("COST_COOLIFY_USD_PER_SLOT_HOUR", format!("{:.5}", self.coolify));
        row("COST_LOCAL_USD_PER_BOT_HOUR", format!("{:.5}", self.local));
    }
}

/// What `vcpu` and `gb` cost per hour on Fargate.
pub fn fargate_hourly(vcpu: f64, gb: f64) -> f64 {
    vcpu * FARGATE_USD_PER_VCPU_HOUR + gb * FARGATE_USD_PER_GB_HOUR
}

/// The Kubernetes default from the bot's requests (Kubernetes quantities: `500m`, `1Gi`); a
/// quantity that does not parse (the Kubernetes config reports it) counts as 0.5 vCPU / 1 GB.
pub fn k8s_default(cpu_request: &str, memory_request: &str) -> f64 {
    let vcpu = parse_quantity(cpu_request).filter(|v| *v > 0.0).unwrap_or(0.5);
    let gb = parse_quantity(memory_request).filter(|v| *v > 0.0).map_or(1.0, |b| b / f64::from(1u32 << 30));
    fargate_hourly(vcpu, gb)
}

fn price(vars: &Vars, errs: &mut ConfigErrors, key: &str, default: f64) -> f64 {
    let Some(raw) = vars.get(key) else { return default };
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=MAX_USD_PER_HOUR).contains(&v) => v,
        _ => {
            errs.push(
                key,
                format!(
                    "'{raw}' is not a price: use US dollars per hour from 0 to {MAX_USD_PER_HOUR}, e.g. 0.0247 (unset for the default)"
                ),
            );
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubernetes_default_is_the_requests_at_fargate_prices() {
        // 0.5 vCPU and 1 GiB.
        assert!((k8s_default("500m", "1Gi") - 0.024_685).abs() < 1e-9);
        assert!((k8s_default("2", "4096Mi") - (2.0 * 0.04048 + 4.0 * 0.004445)).abs() < 1e-9);
        // Unparsable requests fall back to the common bot size.
        assert!((k8s_default("lots", "") - fargate_hourly(0.5, 1.0)).abs() < 1e-12);
    }

    #[test]
    fn prices_are_read_checked_and_named_in_errors() {
        let k8s = |vars: &[(&str, &str)]| {
            let vars: Vars = vars.iter().copied().collect();
            let mut errs = ConfigErrors::default();
            let config = K8sConfig::read(&vars, &mut errs, "org");
            let prices = Prices::read(&vars, &mut errs, &config);
            (prices, errs)
        };
        let (p, errs) = k8s(&[]);
        assert!(errs.0.is_empty(), "{errs}");
        assert_eq!((p.coolify, p.local), (COOLIFY_USD_PER_SLOT_HOUR, 0.0));
        let (p, errs) = k8s(&[("COST_LOCAL_USD_PER_BOT_HOUR", "0.5"), ("COST_AWS_USD_PER_BOT_HOUR", " 0.1 ")]);
        assert!(errs.0.is_empty(), "{errs}");
        assert_eq!((p.local, p.aws), (0.5, 0.1));
        for bad in ["-1", "abc", "NaN", "inf", "1001"] {
            let (_, errs) = k8s(&[("COST_K8S_USD_PER_BOT_HOUR", bad)]);
            assert!(errs.mentions("COST_K8S_USD_PER_BOT_HOUR"), "{bad}: {errs}");
        }
    }
}
