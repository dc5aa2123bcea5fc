fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    trim_freed_memory();
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

/// glibc returns freed memory to the system only from the top of its heap: a burst (a merge of
/// the event ids, a large batch, a report) leaves pages the process keeps although nothing
/// uses them, and each new peak raises the resident memory for good. A thread hands the freed
/// pages back every few seconds (`malloc_trim` walks the heap in about a millisecond), so the
/// resident memory follows what is in use: SQLite's caches, bounded, and the writer's memory.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_freed_memory() {
    let trim = || loop {
        std::thread::sleep(std::time::Duration::from_secs(5));
        // SAFETY: malloc_trim only releases free memory; it takes the allocator's own locks.
        unsafe {
            libc::malloc_trim(0);
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("malloc-trim".into())
        .spawn(trim)
    {
        eprintln!("the memory-trimming thread could not start: {e}");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_freed_memory() {}
