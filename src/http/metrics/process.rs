//! The process's own gauges under the names every Prometheus client library uses
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`, …), read from `/proc/self`
//! when scraped. On a system without `/proc` they are simply absent.
//!
//! Read by hand rather than with the `metrics-process` crate: it is not among the crates this
//! project builds offline (DEPENDENCIES.md), and the few fields needed are one line of text.

pub const CPU_SECONDS: &str = "process_cpu_seconds_total";
pub const RESIDENT_BYTES: &str = "process_resident_memory_bytes";
pub const VIRTUAL_BYTES: &str = "process_virtual_memory_bytes";
pub const THREADS: &str = "process_threads";
pub const OPEN_FDS: &str = "process_open_fds";
pub const MAX_FDS: &str = "process_max_fds";
pub const START_TIME_SECONDS: &str = "process_start_time_seconds";

/// What `/proc/self/stat` says, in units.
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    /// User and system CPU time.
    pub cpu_seconds: f64,
    pub threads: u64,
    /// Since the machine booted.
    pub started_after_boot_seconds: f64,
    pub virtual_bytes: u64,
    pub resident_bytes: u64,
}

/// Parses a `/proc/<pid>/stat` line (proc(5)); `ticks` per second, `page` bytes. The command
/// name (field 2) may hold spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_stat(line: &str, ticks: u64, page: u64) -> Option<Stat> {
    let rest = &line[line.rfind(')')? + 1..];
    // Field 3 (state) is index 0 here: field n is index n - 3.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |field: usize| f.get(field - 3)?.parse::<u64>().ok();
    let ticks = ticks.max(1) as f64;
    Some(Stat {
        cpu_seconds: (num(14)? + num(15)?) as f64 / ticks,
        threads: num(20)?,
        started_after_boot_seconds: num(22)? as f64 / ticks,
        virtual_bytes: num(23)?,
        resident_bytes: num(24)?.saturating_mul(page),
    })
}

/// The soft "Max open files" of a `/proc/<pid>/limits` text (`None`: unlimited or absent).
pub fn parse_max_fds(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The machine's boot time (`btime` of `/proc/stat`), seconds since the epoch.
fn boot_time(proc_stat: &str) -> Option<u64> {
    proc_stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

pub(super) fn describe() {
    metrics::describe_gauge!(
        CPU_SECONDS,
        metrics::Unit::Seconds,
        "User and system CPU time of the process"
    );
    metrics::describe_gauge!(
        RESIDENT_BYTES,
        metrics::Unit::Bytes,
        "Resident memory of the process"
    );
    metrics::describe_gauge!(
        VIRTUAL_BYTES,
        metrics::Unit::Bytes,
        "Virtual memory of the process"
    );
    metrics::describe_gauge!(THREADS, "Threads of the process");
    metrics::describe_gauge!(OPEN_FDS, "Open file descriptors of the process");
    metrics::describe_gauge!(MAX_FDS, "The process's limit of open file descriptors");
    metrics::describe_gauge!(
        START_TIME_SECONDS,
        metrics::Unit::Seconds,
        "When the process started, seconds since the epoch"
    );
}

/// Reads `/proc/self` now.
pub(super) fn update() {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let ticks = rustix::param::clock_ticks_per_second();
    let page = rustix::param::page_size() as u64;
    if let Some(stat) = read("/proc/self/stat").and_then(|l| parse_stat(&l, ticks, page)) {
        metrics::gauge!(CPU_SECONDS).set(stat.cpu_seconds);
        metrics::gauge!(RESIDENT_BYTES).set(stat.resident_bytes as f64);
        metrics::gauge!(VIRTUAL_BYTES).set(stat.virtual_bytes as f64);
        metrics::gauge!(THREADS).set(stat.threads as f64);
        if let Some(boot) = read("/proc/stat").as_deref().and_then(boot_time) {
            metrics::gauge!(START_TIME_SECONDS).set(boot as f64 + stat.started_after_boot_seconds);
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!(OPEN_FDS).set(fds.count() as f64);
    }
    if let Some(max) = read("/proc/self/limits").as_deref().and_then(parse_max_fds) {
        metrics::gauge!(MAX_FDS).set(max as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_is_read_after_the_command_name() {
        // A command name with a space and a parenthesis, as proc(5) allows.
        let line = "4242 (rosterhub (x) y) S 1 4242 4242 0 -1 4194560 1200 0 3 0 \
                    250 150 0 0 20 0 12 0 98765 123456789 3000 18446744073709551615";
        let stat = parse_stat(line, 100, 4096).unwrap();
        assert_eq!(
            stat,
            Stat {
                cpu_seconds: 4.0,
                threads: 12,
                started_after_boot_seconds: 987.65,
                virtual_bytes: 123_456_789,
                resident_bytes: 3000 * 4096,
            }
        );
        assert_eq!(parse_stat("garbage", 100, 4096), None);
    }

    #[test]
    fn limits_and_boot_time_are_read() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(parse_max_fds(limits), Some(1024));
        assert_eq!(
            parse_max_fds("Max open files unlimited unlimited files"),
            None
        );
        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1700000000\n"),
            Some(1_700_000_000)
        );
    }

    #[test]
    fn this_process_is_read_on_linux() {
        if std::path::Path::new("/proc/self/stat").exists() {
            let line = std::fs::read_to_string("/proc/self/stat").unwrap();
            let stat = parse_stat(&line, 100, 4096).unwrap();
            assert!(stat.threads >= 1 && stat.resident_bytes > 0, "{stat:?}");
        }
    }
}
