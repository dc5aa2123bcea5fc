fn main() -> std::process::ExitCode {
    tune_malloc();
    trim_freed_memory();
    huddle::cli::main()
}

/// Two settings of glibc's allocator, made before any other thread runs.
///
/// Threads that allocate at the same time get arenas of their own (up to eight per core), each
/// keeping the memory freed in it: with the database's blocking threads the server's resident
/// memory grew by the fragments of many arenas. One arena per core keeps it near what is in
/// use. `MALLOC_ARENA_MAX`, when set, decides instead.
///
/// Blocks of 128 KiB or more (a class page's answer, the event ids' merge) get memory mapped
/// for each and returned when freed. glibc otherwise raises that threshold to the largest
/// block freed so far, after which such blocks come from the heap and leave holes in it.
/// `MALLOC_MMAP_THRESHOLD_`, when set, decides instead.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
    for (env, param, value) in [
        ("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, arenas),
        ("MALLOC_MMAP_THRESHOLD_", libc::M_MMAP_THRESHOLD, 128 * 1024),
    ] {
        if std::env::var_os(env).is_none() {
            // SAFETY: mallopt only sets a parameter of the allocator.
            unsafe {
                libc::mallopt(param, value);
            }
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

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
