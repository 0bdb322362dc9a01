use super::*;

fn pii() -> Pii {
    Pii::new(PiiConfig::new(Key::generate()), new_index_key())
}

fn place<'a>(column: &'static str, tenant: &'a str, id: &'a str) -> Place<'a> {
    Place {
        table: "users",
        column,
        tenant,
        sourced_id: id,
    }
}

#[test]
fn a_value_round_trips_and_its_cell_names_the_key_and_hides_the_value() {
    let p = pii();
    let at = place("email", "t1", "u1");
    let cell = p.encrypt(&at, "taro@example.jp");
    assert!(
        cell.starts_with(&format!("pii1:{}:", p.current().id())),
        "{cell}"
    );
    assert!(!cell.contains("taro"));
    assert_eq!(split_cell(&cell).unwrap().0, p.current().id());
    assert_eq!(p.decrypt(&at, &cell).unwrap(), "taro@example.jp");
    // A fresh nonce per value: the same value never encrypts the same way twice.
    assert_ne!(cell, p.encrypt(&at, "taro@example.jp"));
    // Text that is not a cell passes through.
    assert_eq!(p.decrypt(&at, "plain").unwrap(), "plain");
    assert!(!is_sealed("pii1:xyz:abc"));
    assert!(!is_sealed("pii1:0123abcd:"));
    assert!(is_sealed("pii1:0123abcd:AAAA"));
}

#[test]
fn a_value_moved_to_another_tenant_row_or_column_fails_to_decrypt() {
    let p = pii();
    let cell = p.encrypt(&place("email", "t1", "u1"), "taro@example.jp");
    let moved = [
        place("email", "t2", "u1"),
        place("email", "t1", "u2"),
        place("phone", "t1", "u1"),
    ];
    for at in moved {
        assert_eq!(
            p.decrypt(&at, &cell).unwrap_err(),
            PiiError::Authentication {
                table: "users",
                column: at.column
            },
            "{at:?}"
        );
    }
    // A flipped character fails too.
    let mut tampered = cell.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert!(p.decrypt(&place("email", "t1", "u1"), &tampered).is_err());
}

#[test]
fn a_previous_key_decrypts_and_an_unknown_key_is_named() {
    let (old, new) = (Key::generate(), Key::generate());
    let ik = new_index_key();
    let before = Pii::new(PiiConfig::new(old.clone()), ik);
    let at = place("sms", "t", "u");
    let cell = before.encrypt(&at, "090-1234-5678");
    let during = Pii::new(PiiConfig::new(new.clone()).with_previous(old.clone()), ik);
    assert_eq!(during.decrypt(&at, &cell).unwrap(), "090-1234-5678");
    assert!(during.encrypt(&at, "x").contains(new.id()));
    let after = Pii::new(PiiConfig::new(new), ik);
    assert_eq!(
        after.decrypt(&at, &cell).unwrap_err(),
        PiiError::UnknownKey {
            table: "users",
            column: "sms",
            key: old.id().to_owned()
        }
    );
    // The blind index depends on the index key only, not on the data key.
    assert_eq!(
        before.blind_index("users", "email", "t", "a@x.jp"),
        after.blind_index("users", "email", "t", "a@x.jp")
    );
}

#[test]
fn blind_indexes_normalise_email_and_separate_tenants_and_columns() {
    let p = pii();
    let b = |col: &str, tenant: &str, v: &str| p.blind_index("users", col, tenant, v);
    assert_eq!(
        b("email", "t", "Taro@Example.JP "),
        b("email", "t", "taro@example.jp")
    );
    assert_eq!(b("email", "t", "x").len(), 32);
    assert_ne!(
        b("email", "t", "taro@example.jp"),
        b("email", "u", "taro@example.jp")
    );
    assert_ne!(b("phone", "t", "1"), b("sms", "t", "1"));
    // Only e-mail ignores case.
    assert_ne!(b("phone", "t", "A1"), b("phone", "t", "a1"));
    let other = pii();
    assert_ne!(
        b("email", "t", "x"),
        other.blind_index("users", "email", "t", "x")
    );
}

#[test]
fn rows_are_sealed_column_by_column_and_empty_cells_stay_empty() {
    let p = pii();
    let cols = Entity::Users.columns();
    let mut values = vec![String::new(); cols.len()];
    let at = |db: &str| cols.iter().position(|c| c.db == db).unwrap();
    values[at("email")] = "taro@example.jp".into();
    values[at("given_name")] = "太郎".into();
    values[at("password")] = "secret".into();
    let sealed = p.seal_row(Entity::Users, "t", "u1", &values);
    let out = sealed.values.as_ref().unwrap();
    assert!(is_sealed(&out[at("email")]));
    assert!(is_sealed(&out[at("password")]));
    assert_eq!(out[at("given_name")], "太郎", "not configured");
    assert_eq!(out[at("phone")], "", "empty stays empty");
    // Blind indexes in BLIND_INDEXED order: email, sms, phone.
    assert_eq!(
        sealed.bidx(),
        &[
            Some(p.blind_index("users", "email", "t", "taro@example.jp")),
            None,
            None
        ]
    );
    let mut read: Vec<Option<String>> = out
        .iter()
        .map(|v| (!v.is_empty()).then(|| v.clone()))
        .collect();
    p.open_record(Entity::Users, "t", "u1", &mut read).unwrap();
    let expect: Vec<Option<String>> = values
        .iter()
        .map(|v| (!v.is_empty()).then(|| v.clone()))
        .collect();
    assert_eq!(read, expect);
    // Entities with nothing configured are written as given.
    let orgs = p.seal_row(Entity::Orgs, "t", "o", &["x".to_owned()]);
    assert!(orgs.values.is_none() && orgs.bidx().is_empty());
    assert_eq!(Sealed::plain(Entity::Users).bidx(), &[None, None, None]);
}

#[test]
fn column_lists_accept_text_and_dates_of_users_and_demographics_only() {
    let c = Columns::parse(DEFAULT_COLUMNS).unwrap();
    assert_eq!(
        c.names(),
        [
            "users.email",
            "users.sms",
            "users.phone",
            "users.password",
            "demographics.birthDate"
        ]
    );
    assert!(c.contains_db(Entity::Demographics, "birth_date"));
    assert!(!c.contains_db(Entity::Users, "given_name"));
    assert!(Columns::parse("users.givenName, users.userIds").is_ok());
    for bad in [
        "users",
        "pupils.email",
        "users.mail",
        "users.primaryOrgSourcedId",
        "demographics.sex",
        "orgs.name",
        "userProfiles.password",
    ] {
        assert!(
            matches!(Columns::parse(bad), Err(PiiError::Config(_))),
            "{bad}"
        );
    }
}

#[test]
fn keys_parse_from_base64_and_never_show_in_debug() {
    let k = Key::generate();
    let text = k.to_base64();
    let back = Key::from_base64(&format!(" {text}\n")).unwrap();
    assert_eq!(back.id(), k.id());
    assert_eq!(k.id().len(), 8);
    assert_eq!(format!("{k:?}"), format!("Key({})", k.id()));
    assert!(Key::from_base64("not base64!").is_err());
    assert!(Key::from_base64("AAAA").is_err(), "3 bytes");
    let p = Pii::new(PiiConfig::new(k), new_index_key());
    assert!(!format!("{p:?}").contains(&text));
    let s = PiiSettings {
        key: Some(text.clone()),
        ..PiiSettings::default()
    };
    assert!(!format!("{s:?}").contains(&text));
}

#[test]
fn settings_need_one_current_key_and_refuse_ambiguity() {
    assert!(PiiSettings::default().load().unwrap().is_none());
    let (a, b) = (Key::generate(), Key::generate());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key");
    std::fs::write(&file, format!("{}\n", a.to_base64())).unwrap();
    let from_file = PiiSettings {
        key_file: Some(file.clone()),
        previous_key: Some(b.to_base64()),
        ..PiiSettings::default()
    }
    .load()
    .unwrap()
    .unwrap();
    assert_eq!(from_file.current.id(), a.id());
    assert_eq!(from_file.previous.unwrap().id(), b.id());
    let err = |s: PiiSettings| s.load().unwrap_err().to_string();
    assert!(
        err(PiiSettings {
            key: Some(a.to_base64()),
            key_file: Some(file.clone()),
            ..PiiSettings::default()
        })
        .contains("both ROSTERHUB_PII_KEY and")
    );
    assert!(
        err(PiiSettings {
            previous_key: Some(a.to_base64()),
            ..PiiSettings::default()
        })
        .contains("no current key")
    );
    assert!(
        err(PiiSettings {
            key: Some(a.to_base64()),
            previous_key: Some(a.to_base64()),
            ..PiiSettings::default()
        })
        .contains("is the current key")
    );
    let missing = err(PiiSettings {
        key_file: Some(dir.path().join("nope")),
        ..PiiSettings::default()
    });
    assert!(
        missing.contains("cannot read the PII key file"),
        "{missing}"
    );
    // A bad key names the variable, never the text.
    let bad = err(PiiSettings {
        key: Some("c2VjcmV0".into()),
        ..PiiSettings::default()
    });
    assert!(
        bad.starts_with("ROSTERHUB_PII_KEY:") && !bad.contains("c2VjcmV0"),
        "{bad}"
    );
}

#[test]
fn the_index_key_unwraps_only_with_the_key_that_wrapped_it() {
    let (a, b) = (Key::generate(), Key::generate());
    let ik = new_index_key();
    let wrapped = wrap_index_key(&a, &ik);
    assert_eq!(unwrap_index_key(&a, &wrapped), Some(ik));
    assert_eq!(unwrap_index_key(&b, &wrapped), None);
}
