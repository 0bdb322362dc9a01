//! The `rosterhub` binary: everything lives in the library.

/// Serving JSON allocates many small objects per request; glibc's malloc spent ~30 % of the
/// CPU of an uncached page walk in a profile, mimalloc a fraction of that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(rosterhub::cli::run());
}
