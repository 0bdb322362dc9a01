//! Grades as school lists write them (`小1`, `中学校3年`, `１年`, `3`) → the MEXT grade codes the
//! Japan Profile uses (ONEROSTER.md §2.5: `P1`–`P6` 小学校, `J1`–`J3` 中学校, `H1`–`H3` 高等学校).

use super::text::to_half_width;

/// The kind of school, which says what a bare grade number means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchoolType {
    /// 小学校: 1–6 → P1–P6.
    Elementary,
    /// 中学校: 1–3 → J1–J3.
    JuniorHigh,
    /// 高等学校: 1–3 → H1–H3.
    High,
    /// 義務教育学校: 1–6 → P1–P6, 7–9 → J1–J3.
    Compulsory,
}

const CODES: [&str; 12] = [
    "P1", "P2", "P3", "P4", "P5", "P6", "J1", "J2", "J3", "H1", "H2", "H3",
];

fn code(stage: char, n: u32) -> Option<&'static str> {
    let (offset, max) = match stage {
        'P' => (0, 6),
        'J' => (6, 3),
        'H' => (9, 3),
        _ => return None,
    };
    (1..=max)
        .contains(&n)
        .then(|| CODES[offset + n as usize - 1])
}

/// The grade code of a cell, or `None` when it is not a grade (or a bare number without a
/// school type to read it by).
pub fn grade_code(value: &str, school: Option<SchoolType>) -> Option<&'static str> {
    let v: String = to_half_width(value)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let upper = v.to_ascii_uppercase();
    if let Some(c) = CODES.iter().find(|c| **c == upper) {
        return Some(c);
    }
    // The stage named in the cell, longest spelling first.
    let stages: [(&str, char); 9] = [
        ("小学校", 'P'),
        ("小学", 'P'),
        ("小", 'P'),
        ("中学校", 'J'),
        ("中学", 'J'),
        ("中", 'J'),
        ("高等学校", 'H'),
        ("高校", 'H'),
        ("高", 'H'),
    ];
    let (stage, rest) = match stages
        .iter()
        .find_map(|(p, s)| v.strip_prefix(p).map(|r| (Some(*s), r)))
    {
        Some(found) => found,
        None => (None, v.as_str()),
    };
    let rest = rest.strip_prefix("第").unwrap_or(rest);
    let digits = rest
        .strip_suffix("年生")
        .or_else(|| rest.strip_suffix("学年"))
        .or_else(|| rest.strip_suffix('年'))
        .unwrap_or(rest);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = digits.parse().ok()?;
    match (stage, school) {
        (Some(s), _) => code(s, n),
        (None, Some(SchoolType::Elementary)) => code('P', n),
        (None, Some(SchoolType::JuniorHigh)) => code('J', n),
        (None, Some(SchoolType::High)) => code('H', n),
        (None, Some(SchoolType::Compulsory)) if n <= 6 => code('P', n),
        (None, Some(SchoolType::Compulsory)) => code('J', n - 6),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SchoolType::*;

    #[test]
    fn spellings_of_a_grade() {
        for (v, school, want) in [
            ("小1", None, Some("P1")),
            ("小６", None, Some("P6")),
            ("小学1年", None, Some("P1")),
            ("小学校3年生", None, Some("P3")),
            ("中3", None, Some("J3")),
            ("中学校3年", None, Some("J3")),
            ("高1", None, Some("H1")),
            ("高校2年", None, Some("H2")),
            ("高等学校3年", None, Some("H3")),
            ("p2", None, Some("P2")),
            ("J1", Some(High), Some("J1")),
            ("1", Some(Elementary), Some("P1")),
            ("１年", Some(JuniorHigh), Some("J1")),
            ("第2学年", Some(High), Some("H2")),
            ("7年", Some(Compulsory), Some("J1")),
            ("9", Some(Compulsory), Some("J3")),
            ("6", Some(Compulsory), Some("P6")),
            ("1", None, None),
            ("小7", None, None),
            ("中4", None, None),
            ("4", Some(High), None),
            ("10", Some(Compulsory), None),
            ("年", Some(Elementary), None),
            ("一年", Some(Elementary), None),
            ("", Some(Elementary), None),
        ] {
            assert_eq!(grade_code(v, school), want, "{v:?} {school:?}");
        }
    }
}
