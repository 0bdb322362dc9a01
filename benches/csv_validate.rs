//! Hot pure paths of the import: validating a generated bundle end to end (no database), and
//! the per-cell functions it calls most.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rosterhub::domain::datetime::parse_datetime;
use rosterhub::domain::ids::is_uuid_v4_lower;
use rosterhub::generate::{GenProfile, GenerateOptions, generate_dir};
use rosterhub::import::{ImportOptions, validate};

fn validate_bundle(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenerateOptions {
        students: 5_000,
        seed: 1,
        profile: GenProfile::JpV121,
        delta: false,
    };
    let summary = generate_dir(dir.path(), &opts).unwrap();
    let rows: u64 = summary
        .files
        .iter()
        .filter(|(f, _)| f != "manifest.csv")
        .map(|(_, n)| n)
        .sum();
    let mut group = c.benchmark_group("validate");
    group.throughput(Throughput::Elements(rows));
    group.sample_size(10);
    group.bench_function("5000_students", |b| {
        b.iter(|| {
            let report = validate(dir.path(), &ImportOptions::default(), &());
            assert_eq!(report.error_count, 0);
        })
    });
    group.finish();
}

fn cells(c: &mut Criterion) {
    c.bench_function("parse_datetime_offset", |b| {
        b.iter(|| parse_datetime(std::hint::black_box("2024-06-01T09:00:00.123+09:00")))
    });
    c.bench_function("is_uuid_v4_lower", |b| {
        b.iter(|| is_uuid_v4_lower(std::hint::black_box("9ee69c38-c9f8-4566-afa6-531223ce3e55")))
    });
}

criterion_group!(benches, validate_bundle, cells);
criterion_main!(benches);
