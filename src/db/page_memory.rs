//! SQLite's page caches draw from one block of memory set aside at start.
//!
//! Left to itself, each connection allocates its cache's pages as it first uses them: the
//! writer's cache (16 MiB) filled as the database grew (13 MB of pages at 250,000 events), and
//! the server's memory with it, and pages freed one by one left holes the allocator could not
//! hand back. With the block (SQLite's `SQLITE_CONFIG_PAGECACHE`), the memory is resident from the
//! start and stays the same: pages are taken from the block and returned to it. Should the
//! caches ever want more than the block holds (large sorts in memory), SQLite recycles their
//! pages first and allocates beyond the block only for pages in use at once.

use std::ffi::{c_int, c_void};
use std::sync::Once;

use libsqlite3_sys as ffi;

use super::{PAGE_SIZE, READER_CACHE_MIB};

/// The operating system's memory page, at most: the stride that makes the block resident.
const OS_PAGE: usize = 4096;
/// Beside the readers and the writer: the checkpointer's cache and in-memory temporary tables.
const OTHER_MIB: usize = 8;

/// Sets aside the memory of every cache of a server with `readers` pooled readers and a writer
/// cache of `writer_mib`, before the process's first SQLite connection opens. SQLite accepts
/// it only then: after (a test process that opened a database before), SQLite goes on
/// allocating its pages itself. Once per process.
pub fn reserve(readers: u32, writer_mib: u32) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: no block (a null pointer) is a valid setting; the call fails, changing
        // nothing, once SQLite is in use.
        let free = unsafe {
            ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_PAGECACHE,
                std::ptr::null_mut::<c_void>(),
                0,
                0,
            )
        };
        if free != ffi::SQLITE_OK {
            tracing::debug!("SQLite already in use: its caches allocate their own pages");
            return;
        }
        let mib = readers as usize * READER_CACHE_MIB + writer_mib as usize + OTHER_MIB;
        let mut header: c_int = 0;
        // SAFETY: SQLITE_CONFIG_PCACHE_HDRSZ writes one int through the pointer given.
        unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_PCACHE_HDRSZ, &mut header as *mut c_int) };
        let slot = (PAGE_SIZE + header.max(0) as usize).next_multiple_of(8);
        let slots = mib * 1024 * 1024 / slot;
        let block: &'static mut [u8] = Box::leak(vec![0u8; slots * slot].into_boxed_slice());
        // Touched now, so the block is resident from the start rather than as pages are used.
        for at in (0..block.len()).step_by(OS_PAGE) {
            // SAFETY: `at` is within the block.
            unsafe { std::ptr::write_volatile(block.as_mut_ptr().add(at), 0) };
        }
        // SAFETY: the block lives for the rest of the process and is handed to SQLite alone.
        let rc = unsafe {
            ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_PAGECACHE,
                block.as_mut_ptr() as *mut c_void,
                slot as c_int,
                slots as c_int,
            )
        };
        debug_assert_eq!(rc, ffi::SQLITE_OK, "SQLite took no block a moment ago");
    });
}
