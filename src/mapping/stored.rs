//! Profiles stored per tenant under a name (`/api/v1/mappings`, `POST /api/v1/imports
//! ?mapping=NAME`): the name rule, and the profile an import job runs with — `auto` or the
//! text the job kept when it was queued, so a retry or an approval maps with the same version
//! whatever happened to the stored profile since.

use super::profile::{MappingProfile, School};

/// The name of the built-in layouts; no stored profile may take it.
pub const AUTO: &str = "auto";
/// `/mappings/preview` is the preview of a profile sent with the sample, not a stored one.
pub const PREVIEW: &str = "preview";

/// A stored profile's name: 1 to 64 of `A–Z a–z 0–9 _ -` (it appears in URLs and query
/// strings unescaped), never `auto` or `preview`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileName(String);

impl ProfileName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(name: &str) -> Result<ProfileName, String> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if name.is_empty() || name.len() > Self::MAX_LEN || !name.chars().all(allowed) {
            return Err(format!(
                "{name:?} is not a mapping name: use 1 to {} letters, digits, _ or - \
                 (名前は英数字・_・- で 1〜{} 文字にしてください)",
                Self::MAX_LEN,
                Self::MAX_LEN
            ));
        }
        if name == AUTO {
            return Err(format!(
                "\"{AUTO}\" names the built-in layouts and cannot be a stored mapping's name; \
                 choose another (auto は組み込みの名簿形式の名前です。別の名前にしてください)"
            ));
        }
        if name == PREVIEW {
            return Err(format!(
                "\"{PREVIEW}\" is the path of the preview (POST /api/v1/mappings/preview) and \
                 cannot be a stored mapping's name; choose another (別の名前にしてください)"
            ));
        }
        Ok(ProfileName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The profile of an import job: the built-in layouts for `auto`, else the profile text the
/// job kept. `Err` is a message for the job's report.
pub fn job_profile(name: &str, text: Option<&str>) -> Result<MappingProfile, String> {
    if name == AUTO {
        return Ok(MappingProfile::auto(School::default(), None));
    }
    let text = text.ok_or_else(|| {
        format!(
            "the job names the mapping {name:?} but kept no copy of it; upload the lists again \
             (マッピングの内容が保存されていません。もう一度アップロードしてください)"
        )
    })?;
    MappingProfile::parse(text).map_err(|e| {
        format!(
            "the mapping {name:?} kept with this job cannot be read: {e}; save it again with PUT \
             /api/v1/mappings/{name} and upload the lists again \
             (マッピングを読み取れません。保存し直してからもう一度アップロードしてください)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_url_safe_words_and_never_auto() {
        for ok in ["sakura", "A-1_b", &"x".repeat(64)] {
            assert_eq!(ProfileName::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "auto",
            "preview",
            "a.json",
            "さくら",
            "a b",
            "a/b",
            &"x".repeat(65),
        ] {
            assert!(ProfileName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_job_maps_with_the_text_it_kept() {
        assert!(job_profile("auto", None).is_ok());
        let kept = job_profile("s", Some(r#"{"version": 1, "schoolYear": 2024}"#)).unwrap();
        assert_eq!(kept.school_year, Some(2024));
        assert!(job_profile("s", None).unwrap_err().contains("no copy"));
        assert!(
            job_profile("s", Some("{"))
                .unwrap_err()
                .contains("cannot be read")
        );
    }
}
