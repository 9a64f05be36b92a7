//! The thread scheduler of an import: runs weighted tasks (the MAC check and the decryptions,
//! each a key derivation of thousands of hash rounds) on a few scoped threads, longest first,
//! each to the least loaded thread, the caller's thread included.
//!
//! Uses no other file of `pfx`: the tasks are closures, their results any `Send` type.

/// A unit of work returning `T`, run on whichever thread its weight puts it.
pub(crate) type Task<'a, T> = Box<dyn FnOnce() -> T + Send + 'a>;

/// Below this much work (iterations) a thread costs more than it saves.
const PARALLEL_MIN_WORK: u64 = 1_000;

/// Runs tasks on up to `threads` threads (the caller's included), balancing them by weight
/// (longest first, each to the least loaded thread).
pub(crate) fn run_tasks<T: Send>(mut tasks: Vec<(u64, Task<'_, T>)>, threads: usize) -> Vec<T> {
    let total: u64 = tasks.iter().map(|(w, _)| *w).sum();
    let threads = threads.min(tasks.len());
    if threads <= 1 || total < PARALLEL_MIN_WORK {
        return tasks.into_iter().map(|(_, t)| t()).collect();
    }
    tasks.sort_by_key(|(weight, _)| core::cmp::Reverse(*weight));
    let mut buckets: Vec<(u64, Vec<Task<'_, T>>)> = (0..threads).map(|_| (0, Vec::new())).collect();
    for (weight, task) in tasks {
        if let Some(bucket) = buckets.iter_mut().min_by_key(|(load, _)| *load) {
            bucket.0 += weight;
            bucket.1.push(task);
        }
    }
    let mut buckets = buckets.into_iter().map(|(_, b)| b);
    let mine = buckets.next().unwrap_or_default();
    std::thread::scope(|scope| {
        let handles: Vec<_> = buckets
            .map(|bucket| scope.spawn(move || bucket.into_iter().map(|t| t()).collect::<Vec<_>>()))
            .collect();
        let mut out: Vec<T> = mine.into_iter().map(|t| t()).collect();
        for handle in handles {
            // A task cannot panic short of a bug; its results are then simply missing, and the
            // import reports the affected parts as undecryptable rather than unwinding.
            if let Ok(results) = handle.join() {
                out.extend(results);
            }
        }
        out
    })
}
