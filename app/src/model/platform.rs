//! Where a bot runs: the deployment platforms of the hybrid deployer.

use serde::{Deserialize, Serialize};

/// A platform that can run bots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DeploymentPlatform {
    K8s,
    Aws,
    Coolify,
    Local,
}

impl DeploymentPlatform {
    /// Every platform, in a stable order.
    pub const ALL: [DeploymentPlatform; 4] = [Self::K8s, Self::Aws, Self::Coolify, Self::Local];

    /// The stored and configured name (`k8s`, `aws`, `coolify`, `local`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::K8s => "k8s",
            Self::Aws => "aws",
            Self::Coolify => "coolify",
            Self::Local => "local",
        }
    }

    /// Parses a configured or stored name, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// The prefix of this platform's environment variables (`K8S`, `AWS`, ...).
    pub fn env_prefix(self) -> &'static str {
        match self {
            Self::K8s => "K8S",
            Self::Aws => "AWS",
            Self::Coolify => "COOLIFY",
            Self::Local => "LOCAL",
        }
    }

    /// The short label shown in tables (`K8s`, `AWS`, `Coolify`, `Local`).
    pub fn label(self) -> &'static str {
        match self {
            Self::K8s => "K8s",
            Self::Aws => "AWS",
            Self::Coolify => "Coolify",
            Self::Local => "Local",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for p in DeploymentPlatform::ALL {
            assert_eq!(DeploymentPlatform::parse(p.as_str()), Some(p));
        }
        assert_eq!(DeploymentPlatform::parse(" K8S "), Some(DeploymentPlatform::K8s));
        assert_eq!(DeploymentPlatform::parse("gcp"), None);
    }
}
