//! An idle pool thread stops (Pulseboard's patch 24, see vendor/PATCHES.md):
//! 1.7.0 kept every pool thread once the thread limit was known, and each
//! woke every 500 ms for the life of the program.

#[cfg(target_os = "linux")]
#[test]
fn an_idle_pool_thread_stops() {
    use std::time::{Duration, Instant};

    /// Threads of this process that the pool started (`blocking-N`).
    fn pool_threads() -> usize {
        std::fs::read_dir("/proc/self/task")
            .expect("/proc/self/task")
            .filter_map(Result::ok)
            .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
            .filter(|name| name.starts_with("blocking-"))
            .count()
    }

    let ran_on = futures_lite::future::block_on(blocking::unblock(|| {
        std::thread::current().name().map(str::to_string)
    }));
    assert!(
        ran_on.as_deref().is_some_and(|n| n.starts_with("blocking-")),
        "the task ran on {ran_on:?}, not on a pool thread"
    );
    // The thread waits 500 ms for more work, then stops; 30 s is only the
    // bound for a starved machine.
    let deadline = Instant::now() + Duration::from_secs(30);
    while pool_threads() > 0 {
        assert!(
            Instant::now() < deadline,
            "a pool thread is still alive 30 s after its only task"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
