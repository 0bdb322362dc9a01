//! The JSON of a client bound to a national model (`client create --target`): half-width
//! katakana in the model's name and title fields become full-width, as `export --target` writes
//! them (docs/national-models.md). The stored data is unchanged; other clients read it as is.

use serde_json::Value;

use crate::csv::target::{Target, has_half_width_kana, kana_to_full_width};

/// The REST name of a CSV column where they differ (OneRoster 1.2 §3.4).
fn json_name(csv: &str) -> &str {
    match csv {
        "preferredGivenName" => "preferredFirstName",
        "preferredFamilyName" => "preferredLastName",
        other => other,
    }
}

fn convert(v: &mut Value) {
    if let Value::String(s) = v
        && has_half_width_kana(s)
    {
        *s = kana_to_full_width(s);
    }
}

/// One record: its listed fields, metadata flat (`"jp.kanaGivenName"`) or nested.
fn conform_record(record: &mut Value, fields: &[&str]) {
    for field in fields {
        match field.strip_prefix("metadata.") {
            Some(key) => {
                let Some(meta) = record.get_mut("metadata") else {
                    continue;
                };
                if let Some(v) = meta.get_mut(key) {
                    convert(v);
                } else if let Some((outer, inner)) = key.split_once('.')
                    && let Some(v) = meta.get_mut(outer).and_then(|o| o.get_mut(inner))
                {
                    convert(v);
                }
            }
            None => {
                if let Some(v) = record.get_mut(json_name(field)) {
                    convert(v);
                }
            }
        }
    }
}

/// Converts a response body (`{"users": [...]}`, `{"user": {...}}`, …) for `target`.
pub fn conform(body: &mut Value, target: Target) {
    let Some(obj) = body.as_object_mut() else {
        return;
    };
    for (key, v) in obj.iter_mut() {
        let file = match key.as_str() {
            "users" | "user" | "students" | "student" | "teachers" | "teacher" => "users",
            "orgs" | "org" | "schools" | "school" => "orgs",
            "courses" | "course" => "courses",
            "classes" | "class" => "classes",
            _ => continue,
        };
        let fields = target.full_width(file);
        match v {
            Value::Array(records) => records.iter_mut().for_each(|r| conform_record(r, fields)),
            Value::Object(_) => conform_record(v, fields),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_titles_and_kana_become_full_width() {
        let mut body = json!({"users": [{
            "givenName": "ｼｮｳﾀ", "preferredFirstName": "ｼｮｳﾀ", "identifier": "ｱ1",
            "metadata": {"jp.kanaGivenName": "ｼｮｳﾀ", "jp.kanaPreferredGivenName": "ｼｮｳﾀ"}
        }]});
        conform(&mut body, Target::Eportal4);
        assert_eq!(
            body,
            json!({"users": [{
                "givenName": "ショウタ", "preferredFirstName": "ショウタ", "identifier": "ｱ1",
                "metadata": {"jp.kanaGivenName": "ショウタ", "jp.kanaPreferredGivenName": "ショウタ"}
            }]})
        );
        // Ver.3.00 leaves the preferred names' kana alone; nested metadata is found too.
        let mut body = json!({"user": {"metadata": {"jp": {"kanaGivenName": "ｼｮｳﾀ",
            "kanaPreferredGivenName": "ｼｮｳﾀ"}}}});
        conform(&mut body, Target::Eportal3);
        assert_eq!(
            body,
            json!({"user": {"metadata": {"jp": {"kanaGivenName": "ショウタ",
                "kanaPreferredGivenName": "ｼｮｳﾀ"}}}})
        );
        let mut body = json!({"class": {"title": "1ﾈﾝ", "location": "ﾀｲｲｸｶﾝ"}, "x": "ｱ"});
        conform(&mut body, Target::Interop6);
        assert_eq!(
            body,
            json!({"class": {"title": "1ネン", "location": "タイイクカン"}, "x": "ｱ"})
        );
    }
}
