//! Text as school lists write it: full-width digits and letters, half-width katakana, names
//! with the family and given name in one cell, kana in hiragana or katakana.

/// Full-width ASCII (U+FF01–U+FF5E) → ASCII; the ideographic space U+3000 → a space. Kana and
/// kanji are left alone.
pub fn to_half_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// Half-width katakana → full-width, a following ﾞ/ﾟ joined into the letter (ｶﾞ → ガ).
pub fn kana_to_full_width(s: &str) -> String {
    crate::csv::target::kana_to_full_width(s)
}

/// Hiragana → katakana (ゔ → ヴ, ゝゞ → ヽヾ); everything else unchanged.
pub fn to_katakana(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => {
                char::from_u32(c as u32 + 0x60).unwrap_or(c)
            }
            _ => c,
        })
        .collect()
}

/// Katakana → hiragana (ヴ → ゔ, ヽヾ → ゝゞ); letters without a hiragana (ヷ…ヺ) unchanged.
pub fn to_hiragana(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{30A1}'..='\u{30F6}' | '\u{30FD}' | '\u{30FE}' => {
                char::from_u32(c as u32 - 0x60).unwrap_or(c)
            }
            _ => c,
        })
        .collect()
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\u{3000}' || c == '\t'
}

/// A cell as the mapping reads it: trimmed, ASCII half-width, katakana full-width, runs of
/// spaces inside one space. `normalize(normalize(x)) == normalize(x)`.
pub fn normalize(s: &str) -> String {
    let wide = kana_to_full_width(&to_half_width(s));
    let mut out = String::with_capacity(wide.len());
    for word in wide.split(is_space).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// `高橋　翔太` → (`高橋`, `翔太`): split on the first run of full- or half-width spaces.
/// `None` when there is no space between two parts (the caller reports it).
pub fn split_name(s: &str) -> Option<(String, String)> {
    let s = s.trim_matches(is_space);
    let at = s.find(is_space)?;
    let family = &s[..at];
    let given = s[at..].trim_matches(is_space);
    (!family.is_empty() && !given.is_empty()).then(|| (family.to_owned(), given.to_owned()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn widths_kana_and_names() {
        assert_eq!(to_half_width("ＡＢＣ１２３！　ｚ"), "ABC123! z");
        assert_eq!(to_half_width("小１"), "小1");
        assert_eq!(kana_to_full_width("ﾀｶﾊｼ ｼｮｳﾀ"), "タカハシ ショウタ");
        assert_eq!(
            to_katakana("たかはし　しょうた ゔぁ ゝ"),
            "タカハシ　ショウタ ヴァ ヽ"
        );
        assert_eq!(to_hiragana("タカハシ ヴ ヽ ヷ"), "たかはし ゔ ゝ ヷ");
        assert_eq!(normalize("　高橋　　翔太 "), "高橋 翔太");
        assert_eq!(normalize(" ｼｮｳﾀ １年 "), "ショウタ 1年");
        assert_eq!(
            split_name("高橋　翔太"),
            Some(("高橋".into(), "翔太".into()))
        );
        assert_eq!(
            split_name(" 高橋  翔太 "),
            Some(("高橋".into(), "翔太".into()))
        );
        assert_eq!(
            split_name("佐藤　花子　ミドル"),
            Some(("佐藤".into(), "花子　ミドル".into()))
        );
        assert_eq!(split_name("高橋翔太"), None);
        assert_eq!(split_name("高橋 "), None);
    }

    proptest! {
        #[test]
        fn normalize_is_idempotent(s in "[ 　a-zＡ-Ｚ０-９ｱ-ﾝﾞﾟあ-んア-ン漢字]{0,24}") {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once);
        }

        #[test]
        fn katakana_round_trips_through_hiragana(s in "[ァ-ヶヽヾー 漢]{0,24}") {
            prop_assert_eq!(to_katakana(&to_hiragana(&s)), s);
        }

        #[test]
        fn hiragana_round_trips_through_katakana(s in "[ぁ-ゖゝゞー 漢]{0,24}") {
            prop_assert_eq!(to_hiragana(&to_katakana(&s)), s);
        }
    }
}
