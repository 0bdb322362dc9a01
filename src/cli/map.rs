//! `rosterhub map check|convert` and the reading of a profile and list files for
//! `import --mapping`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{Format, MapCommand};
use crate::import::{ImportOptions, Report};
use crate::mapping::engine::{Mapped, SourceFile};
use crate::mapping::profile::{MappingProfile, School};
use crate::mapping::{preview, run};

#[derive(Debug, clap::Args)]
pub struct MapArgs {
    /// The school, CODE or CODE:NAME, when the lists have no 学校コード column.
    #[arg(long)]
    pub school: Option<String>,
    /// The 年度 (e.g. 2025); default the profile's, else today's (April–March).
    #[arg(long)]
    pub school_year: Option<i32>,
    #[arg(long, default_value = "default")]
    pub tenant: String,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// A profile file, or `auto` for the built-in layouts alone.
pub fn load_profile(spec: &str) -> anyhow::Result<MappingProfile> {
    if spec == "auto" {
        return Ok(MappingProfile::auto(School::default(), None));
    }
    let text = std::fs::read_to_string(spec)
        .with_context(|| format!("cannot read the mapping profile {spec}"))?;
    MappingProfile::parse(&text).map_err(|e| anyhow::anyhow!("{spec}: {e}"))
}

pub fn read_files(paths: &[PathBuf]) -> anyhow::Result<Vec<SourceFile>> {
    paths
        .iter()
        .map(|p| {
            Ok(SourceFile {
                name: p
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                bytes: std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
            })
        })
        .collect()
}

/// What `map check` shows (`mapping::preview`, as the API's preview answers it): the sources,
/// the first `rows` records of each file, the report.
fn print_check(mapped: &Mapped, report: &Report, format: Format, rows: usize) {
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&preview::to_json(mapped, report, rows))
                .unwrap_or_default()
        ),
        Format::Text => print!("{}", preview::to_text(mapped, report, rows)),
    }
}

pub fn dispatch(command: MapCommand) -> anyhow::Result<i32> {
    let (profile, files, args, rows, out) = match command {
        MapCommand::Check {
            profile,
            files,
            rows,
            args,
        } => (profile, files, args, usize::from(rows), None),
        MapCommand::Convert {
            profile,
            mut files,
            args,
        } => {
            let out = files.pop();
            (profile, files, args, 0, out)
        }
    };
    let profile = load_profile(&profile)?;
    let sources = read_files(&files)?;
    let opts = run::options(&args.tenant, args.school.as_deref(), args.school_year);
    let import_opts = ImportOptions::default();
    let (mapped, report) = match &out {
        None => run::check(&profile, &sources, &opts, &import_opts)?,
        Some(out) => run::convert(&profile, &sources, &opts, &import_opts, Path::new(out))
            .with_context(|| format!("cannot write {}", out.display()))?,
    };
    print_check(&mapped, &report, args.format, rows);
    if let Some(out) = out
        && report.status.exit_code() == 0
        && args.format == Format::Text
    {
        println!("wrote {}", out.display());
    }
    Ok(report.status.exit_code())
}
