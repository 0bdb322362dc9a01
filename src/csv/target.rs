//! Japan's national interoperability models, layered on the Japan Profile: 学習eポータル標準モデル
//! Ver.3.00 / Ver.4.00 and 相互運用標準モデル Ver.5.00 / Ver.6.00 (docs/national-models.md).
//!
//! A *target* is a base profile plus extra rules: columns that must be filled, name and title
//! columns that must hold no half-width katakana, and the manifest's `oneroster.version`. The
//! rules are data here; `import::target` checks bundles against them and `export::target` makes
//! exports meet them. Sources (public implementation of the models): meibo
//! `lib/meibo/eportal/v3.rb`, `v3/{user,enrollment,classroom,course,organization,user_profile}.rb`,
//! `v4.rb`, `v4/user.rb`, `v5.rb`, `pse_interoperability_standard/v6.rb`, `v6/enrollment.rb`.

use serde::Serialize;

use super::profile::Profile;

/// A national model a bundle or an export is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Target {
    /// 学習eポータル標準モデル Ver.3.00 (on Japan Profile 第2版, `oneroster.version` 1.2).
    #[serde(rename = "eportal-3")]
    Eportal3,
    /// 学習eポータル標準モデル Ver.4.00 (on Japan Profile v.1.2.1, `oneroster.version` 1.2.1).
    #[serde(rename = "eportal-4")]
    Eportal4,
    /// 相互運用標準モデル Ver.5.00: the rules of Ver.4.00.
    #[serde(rename = "interop-5")]
    Interop5,
    /// 相互運用標準モデル Ver.6.00 (on the Japan K-12/Schools Profile v1.0, `1.2_JP`).
    #[serde(rename = "interop-6")]
    Interop6,
}

/// The user name columns that must be full-width: the first nine from Ver.3.00 on
/// ([`NAMES_V3`]), the kana of the preferred names from Ver.4.00.
const NAMES_V4: &[&str] = &[
    "givenName",
    "familyName",
    "middleName",
    "preferredGivenName",
    "preferredMiddleName",
    "preferredFamilyName",
    "metadata.jp.kanaGivenName",
    "metadata.jp.kanaFamilyName",
    "metadata.jp.kanaMiddleName",
    "metadata.jp.kanaPreferredFamilyName",
    "metadata.jp.kanaPreferredGivenName",
    "metadata.jp.kanaPreferredMiddleName",
];

/// Ver.3.00's: the names and their kana, not the preferred names' kana.
const NAMES_V3: usize = 9;

const USERS_REQUIRED: &[&str] = &[
    "userMasterIdentifier",
    "preferredGivenName",
    "preferredFamilyName",
    "metadata.jp.kanaGivenName",
    "metadata.jp.kanaFamilyName",
];

impl Target {
    pub const ALL: [Target; 4] = [
        Target::Eportal3,
        Target::Eportal4,
        Target::Interop5,
        Target::Interop6,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::Eportal3 => "eportal-3",
            Target::Eportal4 => "eportal-4",
            Target::Interop5 => "interop-5",
            Target::Interop6 => "interop-6",
        }
    }

    /// The model's own name, for reports and messages.
    pub fn title(self) -> &'static str {
        match self {
            Target::Eportal3 => "学習eポータル標準モデル Ver.3.00",
            Target::Eportal4 => "学習eポータル標準モデル Ver.4.00",
            Target::Interop5 => "相互運用標準モデル Ver.5.00",
            Target::Interop6 => "相互運用標準モデル Ver.6.00",
        }
    }

    pub fn parse(s: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == s)
    }

    /// The names accepted by `--target`, for messages.
    pub fn names() -> String {
        Target::ALL.map(Target::name).join(", ")
    }

    /// The manifest's `oneroster.version` the model expects.
    pub fn oneroster_version(self) -> &'static str {
        match self {
            Target::Eportal3 => "1.2",
            Target::Eportal4 | Target::Interop5 => "1.2.1",
            Target::Interop6 => "1.2_JP",
        }
    }

    /// The profiles a bundle for this model may be in: Ver.3.00 sits on 第2版 (users in the 1.2
    /// shape; the 1.2.1 shape is accepted too, as the model's validators read columns by name),
    /// Ver.4.00/5.00 on v.1.2.1, Ver.6.00 on the K-12 profile (lower-camel enrollment metadata).
    pub fn profiles(self) -> &'static [Profile] {
        match self {
            Target::Eportal3 => &[Profile::Jp12, Profile::Jp121],
            Target::Eportal4 | Target::Interop5 => &[Profile::Jp121],
            Target::Interop6 => &[Profile::JpK12],
        }
    }

    /// Columns of `file` (a file stem such as `users`) that every active row must fill.
    pub fn required(self, file: &str) -> &'static [&'static str] {
        match file {
            "users" => USERS_REQUIRED,
            "enrollments" => &["primary"],
            _ => &[],
        }
    }

    /// Columns of `file` that must not hold half-width katakana.
    pub fn full_width(self, file: &str) -> &'static [&'static str] {
        match (file, self) {
            ("users", Target::Eportal3) => &NAMES_V4[..NAMES_V3],
            ("users", _) => NAMES_V4,
            ("orgs", _) => &["name"],
            ("courses", _) => &["title"],
            ("classes", _) => &["title", "location"],
            ("userProfiles", _) => &["description"],
            _ => &[],
        }
    }
}

/// How a bundle is held to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetCheck {
    pub target: Target,
    /// Also require `metadata.jp.homeClass` on every user: some e-portal importers did
    /// (ONEROSTER.md §2.9); the models themselves do not.
    pub home_class: bool,
    /// Report breaches as warnings instead of refusing the bundle (`--target-warn`).
    pub warn_only: bool,
}

impl TargetCheck {
    pub fn new(target: Target) -> TargetCheck {
        TargetCheck {
            target,
            home_class: false,
            warn_only: false,
        }
    }

    /// The columns of `file` every active row must fill under this check.
    pub fn required(&self, file: &str) -> Vec<&'static str> {
        let mut cols = self.target.required(file).to_vec();
        if self.home_class && file == "users" {
            cols.push("metadata.jp.homeClass");
        }
        cols
    }
}

/// Whether `s` holds half-width katakana (U+FF61–U+FF9F).
pub fn has_half_width_kana(s: &str) -> bool {
    s.chars().any(|c| ('\u{FF61}'..='\u{FF9F}').contains(&c))
}

/// Half-width katakana → full-width, joining a following ﾞ/ﾟ into the voiced or semi-voiced
/// letter (ｶﾞ → ガ, ﾊﾟ → パ, ｳﾞ → ヴ). Everything else is kept.
pub fn kana_to_full_width(s: &str) -> String {
    // U+FF66..=U+FF9D in order, then the voiced and semi-voiced forms where they exist.
    const PLAIN: &str = "ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン";
    const VOICED: &str = "ガギグゲゴザジズゼゾダヂヅデドバビブベボ";
    const SEMI: &str = "パピプペポ";
    let plain: Vec<char> = PLAIN.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let full = match c {
            '\u{FF61}' => '。',
            '\u{FF62}' => '「',
            '\u{FF63}' => '」',
            '\u{FF64}' => '、',
            '\u{FF65}' => '・',
            '\u{FF9E}' => '゛',
            '\u{FF9F}' => '゜',
            '\u{FF66}'..='\u{FF9D}' => plain[(c as u32 - 0xFF66) as usize],
            _ => {
                out.push(c);
                continue;
            }
        };
        let mark = chars.peek().copied();
        let joined = match mark {
            Some('\u{FF9E}') if full == 'ウ' => Some('ヴ'),
            Some('\u{FF9E}') => "カキクケコサシスセソタチツテトハヒフヘホ"
                .chars()
                .position(|k| k == full)
                .and_then(|i| VOICED.chars().nth(i)),
            Some('\u{FF9F}') => "ハヒフヘホ"
                .chars()
                .position(|k| k == full)
                .and_then(|i| SEMI.chars().nth(i)),
            _ => None,
        };
        match joined {
            Some(j) => {
                chars.next();
                out.push(j);
            }
            None => out.push(full),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for t in Target::ALL {
            assert_eq!(Target::parse(t.name()), Some(t));
        }
        assert_eq!(Target::parse("eportal-9"), None);
    }

    #[test]
    fn half_width_kana_becomes_full_width() {
        assert_eq!(kana_to_full_width("ﾀｶﾊｼ ｼｮｳﾀ"), "タカハシ ショウタ");
        assert_eq!(kana_to_full_width("ｶﾞｯｺｳ ﾊﾟﾝ ｳﾞｨ"), "ガッコウ パン ヴィ");
        assert_eq!(kana_to_full_width("ﾞｱﾟ"), "゛ア゜");
        assert_eq!(kana_to_full_width("高橋 蓮 abc"), "高橋 蓮 abc");
        assert!(!has_half_width_kana(&kana_to_full_width("ｱｲｳｴｵﾜｦﾝｰ")));
        assert_eq!(kana_to_full_width("ｱｲｳｴｵﾜｦﾝｰ"), "アイウエオワヲンー");
    }

    #[test]
    fn home_class_is_required_only_when_asked() {
        let mut c = TargetCheck::new(Target::Eportal4);
        assert!(!c.required("users").contains(&"metadata.jp.homeClass"));
        c.home_class = true;
        assert!(c.required("users").contains(&"metadata.jp.homeClass"));
        assert!(!c.required("enrollments").contains(&"metadata.jp.homeClass"));
    }
}
