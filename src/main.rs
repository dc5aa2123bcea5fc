fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    huddle::cli::main()
}

/// glibc's allocator gives threads that allocate at the same time arenas of their own (up to
/// eight per core) and keeps the memory freed in each: with the database's blocking threads and
/// SQLite's page caches, the server's resident memory kept growing by the fragments of many
/// arenas. One arena per core keeps it near what is in use. `MALLOC_ARENA_MAX`, when set,
/// decides instead.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt only sets a parameter of the allocator, before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
