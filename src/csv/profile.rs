//! Which OneRoster profile a bundle follows, from its manifest version and its headers.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Profile {
    /// OneRoster 1.2 (users.csv with `resourceSourcedIds`).
    #[serde(rename = "oneroster-1.2")]
    OneRoster12,
    /// OneRoster 1.2.1 (users.csv without `resourceSourcedIds`).
    #[serde(rename = "oneroster-1.2.1")]
    OneRoster121,
    /// OneRoster Japan Profile v1.2 第2版 (1.2 users shape + JP metadata).
    #[serde(rename = "jp-1.2")]
    Jp12,
    /// OneRoster Japan Profile v.1.2.1 (`metadata.jp.ShussekiNo`/`PublicFlg`).
    #[serde(rename = "jp-1.2.1")]
    Jp121,
    /// 1EdTech Japan K-12/Schools Profile v1.0, `oneroster.version` `1.2_JP`
    /// (`metadata.jp.shussekiNo`/`publicFlg`).
    #[serde(rename = "jp-k12-1.2_JP")]
    JpK12,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::OneRoster12 => "oneroster-1.2",
            Profile::OneRoster121 => "oneroster-1.2.1",
            Profile::Jp12 => "jp-1.2",
            Profile::Jp121 => "jp-1.2.1",
            Profile::JpK12 => "jp-k12-1.2_JP",
        }
    }

    /// Whether the Japan Profile rules (ONEROSTER.md §2.3) apply.
    pub fn is_japan(self) -> bool {
        matches!(self, Profile::Jp12 | Profile::Jp121 | Profile::JpK12)
    }
}

/// Why a bundle's version cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// Detects the profile. `has_jp_columns`: any header of the bundle has a `metadata.jp.*`
/// column; `users_has_resource_ids`: users.csv is in the 1.2 (not 1.2.1) shape.
pub fn detect(
    oneroster_version: &str,
    has_jp_columns: bool,
    users_has_resource_ids: bool,
) -> Result<Profile, Unsupported> {
    match oneroster_version {
        "1.2_JP" => Ok(Profile::JpK12),
        "1.2" | "1.2.1" => Ok(match (has_jp_columns, users_has_resource_ids) {
            (true, true) => Profile::Jp12,
            (true, false) => Profile::Jp121,
            (false, true) => Profile::OneRoster12,
            (false, false) => Profile::OneRoster121,
        }),
        "1.0" | "1.1" | "1" => Err(Unsupported(format!(
            "this is a OneRoster {oneroster_version} bundle; RosterHub imports OneRoster 1.2 \
             (1.2, 1.2.1, Japan Profile 1.2.x, 1.2_JP). Export the data as OneRoster 1.2 \
             (roles.csv instead of users.orgSourcedIds/role)"
        ))),
        other => Err(Unsupported(format!(
            "unknown oneroster.version `{other}`; supported: 1.2, 1.2.1, 1.2_JP"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_shapes_pick_the_profile() {
        assert_eq!(detect("1.2_JP", true, false), Ok(Profile::JpK12));
        assert_eq!(detect("1.2", true, false), Ok(Profile::Jp121));
        assert_eq!(detect("1.2", true, true), Ok(Profile::Jp12));
        assert_eq!(detect("1.2", false, true), Ok(Profile::OneRoster12));
        assert_eq!(detect("1.2.1", false, false), Ok(Profile::OneRoster121));
        assert!(
            detect("1.1", false, false)
                .unwrap_err()
                .0
                .contains("OneRoster 1.1")
        );
        assert!(detect("2.0", false, false).is_err());
    }
}
