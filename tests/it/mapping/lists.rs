//! School lists as schools export them, written for these tests: a 児童生徒名簿 in Shift_JIS
//! with full-width digits, 和暦 dates, half-width kana and 氏名 split by a full-width space,
//! and a 教職員名簿 in UTF-8 with a BOM whose teacher is 担任 of two classes.

use std::path::{Path, PathBuf};

use rosterhub::mapping::engine::{MapOptions, SourceFile};
use rosterhub::mapping::profile::MappingProfile;

pub const PROFILE: &str = r#"{
  "version": 1,
  "school": {"code": "B113210000019", "name": "さくら市立さくら小学校", "type": "elementary"},
  "schoolYear": 2025
}
"#;

/// Week 1. Headers in an order of their own, spelled クラス / 番号 / フリガナ.
pub const STUDENTS: &str = "児童生徒番号,氏名,フリガナ,学年,クラス,番号,性別,生年月日\r\n\
S0001,山田　太郎,ヤマダ　タロウ,小１,１組,１,男,平成30年4月2日\r\n\
S0002,佐藤 花子,ｻﾄｳ ﾊﾅｺ,小１,１組,２,女,H30.5.10\r\n\
S0003,鈴木　一郎,すずき　いちろう,小１,２組,１,男,2018/06/01\r\n\
S0004,高橋　美咲,タカハシ　ミサキ,小１,２組,２,女,2018-07-15\r\n\
S0005,伊藤　健太,イトウ　ケンタ,２,１,１,男,平成29年4月20日\r\n";

/// Week 2: 佐藤 花子's given name corrected (花子 → 華子) and 鈴木 一郎's birth date corrected.
pub fn students_week2() -> String {
    STUDENTS
        .replace("佐藤 花子", "佐藤 華子")
        .replace("2018/06/01", "2018/06/02")
}

pub const STAFF: &str = "\u{feff}氏名,教職員番号,ふりがな,職名,担任学年,担任組\n\
田中　誠,T001,たなか　まこと,教諭,1,1・2\n\
中村　恵子,T002,なかむら　けいこ,教諭,2,1\n\
小林　浩,T003,こばやし　ひろし,校長,,\n";

/// `text` in Shift_JIS, as a 校務 system writes it.
pub fn sjis(text: &str) -> Vec<u8> {
    let (bytes, _, bad) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!bad, "not representable in Shift_JIS");
    bytes.into_owned()
}

pub fn sources(students: &str) -> Vec<SourceFile> {
    vec![
        SourceFile {
            name: "児童名簿.csv".into(),
            bytes: sjis(students),
        },
        SourceFile {
            name: "教職員名簿.csv".into(),
            bytes: STAFF.as_bytes().to_vec(),
        },
    ]
}

pub fn profile() -> MappingProfile {
    MappingProfile::parse(PROFILE).unwrap()
}

pub fn options() -> MapOptions {
    MapOptions {
        tenant: "default".into(),
        today: (2025, 6, 1),
        ..MapOptions::default()
    }
}

/// The source files and the profile written into `dir`, for the command line.
pub fn write(dir: &Path, students: &str) -> (PathBuf, Vec<PathBuf>) {
    let profile = dir.join("profile.json");
    std::fs::write(&profile, PROFILE).unwrap();
    let files: Vec<PathBuf> = sources(students)
        .into_iter()
        .map(|f| {
            let p = dir.join(&f.name);
            std::fs::write(&p, &f.bytes).unwrap();
            p
        })
        .collect();
    (profile, files)
}
