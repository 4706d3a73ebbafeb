//! The daemon's memory tricks: glibc malloc tuning at start-up and giving
//! memory back to the system once the daemon is idle again. The measurements
//! behind each are in docs/perf-log.md ("Idle RSS", "Fixed glibc malloc
//! thresholds"). This is the only module of the binary with `unsafe` code
//! besides one `kill(2)` in `devnet`.

/// Sets glibc's malloc arenas and thresholds for a long-running daemon.
pub(crate) fn tune_malloc() {
    // glibc gives every thread that allocates its own arena; a long-running
    // daemon whose tasks hop between threads then keeps several half-empty
    // heaps. Two arenas keep idle memory low (about 2.5 MiB less with ten
    // peers) at no measurable cost on transfers.
    //
    // Fixed thresholds instead of glibc's sliding ones: with those, the
    // 256 KiB blocks and 1 MiB Bitswap messages of a transfer went back to
    // the kernel and were faulted in again, 10–25k page faults per 256 MiB
    // on each side (about 20 with these settings on the sender), and on a
    // VM a fresh page can cost a host fault too.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocator tuning; it is called
    // before the runtime starts any thread, and the values are valid for it.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 8 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 16 << 20);
    }
}

/// Gives memory freed after start-up and after bursts (a large transfer,
/// a big listing, a wave of new connections) back to the system, so an idle
/// daemon stays small: freed heap every 10 s (glibc only returns the top of
/// its heaps on its own), and the code pages a burst paged in once the
/// daemon is quiet again.
pub(crate) async fn release_free_memory() {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_cpu = cpu_time();
    // File-backed resident bytes right after the last release (start-up
    // counts as a burst: nothing released yet).
    let mut baseline = 0;
    loop {
        // The first tick is immediate: right after start-up.
        tick.tick().await;
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only returns free heap pages to the kernel; it
        // takes glibc's own arena locks and touches no memory we hold.
        unsafe {
            libc::malloc_trim(0);
        }
        let cpu = cpu_time();
        let quiet = cpu.saturating_sub(last_cpu) < std::time::Duration::from_millis(100);
        last_cpu = cpu;
        // More than the idle daemon's own steady use (about 1 MiB of code
        // comes back between ticks), so releases follow bursts, not every tick.
        let mapped = file_resident_bytes();
        if quiet && mapped > baseline + (2 << 20) {
            release_code_pages();
            baseline = file_resident_bytes();
        }
    }
}

/// User + system CPU time of the whole process.
fn cpu_time() -> std::time::Duration {
    // SAFETY: rusage is a plain C struct of integers; all zeroes is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage into the struct we pass.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return std::time::Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        std::time::Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.max(0) as u32) * 1000)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Resident file-backed (and shared) bytes, from /proc/self/statm.
fn file_resident_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse::<u64>().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Unmaps the resident pages of our own code and read-only data.
///
/// Start-up (config, stores, host set-up) and bursts run through megabytes
/// of code an idle daemon does not run again, and the kernel maps whole
/// neighbourhoods of each page it faults in; all of that would stay in the
/// resident set. These mappings are private and were never written (a
/// mapping is skipped unless smaps says none of it is anonymous, i.e.
/// copied on write, such as relocated data), so dropping their pages loses
/// nothing: what is still used faults back in from the page cache.
#[cfg(target_os = "linux")]
fn release_code_pages() {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut candidate: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let Some(first) = f.next() else { continue };
        if let Some((a, b)) = first.split_once('-') {
            // A mapping header: "start-end perms offset dev inode path".
            candidate = None;
            let perms = f.next().unwrap_or("");
            let path = f.nth(3).unwrap_or("");
            if (perms == "r-xp" || perms == "r--p") && std::path::Path::new(path) == exe {
                if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                {
                    candidate = Some((a, b));
                }
            }
        } else if first == "Anonymous:" {
            if let (Some((a, b)), Some("0")) = (candidate.take(), f.next()) {
                // SAFETY: [a, b) is one whole mapping of our own executable,
                // private, read-only and without a single copied-on-write
                // page (smaps: Anonymous 0), so every page equals the file's;
                // MADV_DONTNEED drops them and later reads fault the same
                // bytes back in from the page cache. No Rust reference can
                // observe a difference.
                unsafe {
                    libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_DONTNEED);
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn release_code_pages() {}
