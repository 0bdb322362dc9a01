//! `--target` on `validate` and `import`: hold a bundle to a national model
//! (docs/national-models.md).

use anyhow::Context as _;

use crate::csv::target::{Target, TargetCheck};

#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Hold the bundle to a national model: eportal-3, eportal-4, interop-5 or interop-6
    /// (学習eポータル標準モデル Ver.3.00/4.00, 相互運用標準モデル Ver.5.00/6.00).
    #[arg(long)]
    pub target: Option<String>,
    /// With --target: report the model's breaches as warnings instead of refusing the bundle.
    #[arg(long, requires = "target")]
    pub target_warn: bool,
    /// With --target: also require metadata.jp.homeClass on every user (some e-portal
    /// importers do; the models do not).
    #[arg(long, requires = "target")]
    pub require_home_class: bool,
}

impl TargetArgs {
    pub fn check(&self) -> anyhow::Result<Option<TargetCheck>> {
        let Some(name) = &self.target else {
            return Ok(None);
        };
        let target = parse(name)?;
        Ok(Some(TargetCheck {
            target,
            home_class: self.require_home_class,
            warn_only: self.target_warn,
        }))
    }
}

/// A `--target` value, or an error listing the accepted ones.
pub fn parse(name: &str) -> anyhow::Result<Target> {
    Target::parse(name)
        .with_context(|| format!("unknown --target {name:?}: use {}", Target::names()))
}
