//! A join of three jobs that polls only the jobs that were woken
//! (Pulseboard patch 18).
//!
//! A websocket session runs its reader, its writer and its heartbeat in one
//! task (patch 5). `futures_util::future::join3` polls all three on every
//! wake-up of that task, although a wake-up is almost always for one of them:
//! a broadcast wakes the writer, and each delivery then also polled the
//! reader (the split stream's lock, a read attempt through tungstenite, the
//! IO readiness check, the cancellation token: two locks) and the heartbeat
//! (its timer and `Notify`, the cancellation token again).
//!
//! [`join3`] gives each job its own [`Waker`]: waking it sets the job's bit
//! and wakes the task (only if no bit was pending: then the task was woken
//! already and has not looked at the bits yet); a poll of the join takes the
//! bits and polls only those jobs. Cost: one allocation per join (the bits,
//! the task's waker and the reference count: 48 bytes) and its pointer in
//! the join's future.
use std::{
    future::Future,
    mem::ManuallyDrop,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, Ordering},
    },
    task::{Context, Poll, RawWaker, RawWakerVTable, Waker},
};

use pin_project_lite::pin_project;

/// What the three jobs' wakers share with the join.
struct Shared {
    /// One bit per job: woken since the join last looked.
    woken: AtomicU8,
    /// The waker of the task that polls the join.
    parent: Mutex<Option<Waker>>,
}

impl Shared {
    fn wake(&self, bit: u8) {
        // Only the first wake-up since the join last took the bits wakes the
        // task: after that, a poll that will see this bit is already due.
        if self.woken.fetch_or(bit, Ordering::AcqRel) == 0 {
            let parent = self.parent.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(waker) = &*parent {
                waker.wake_by_ref();
            }
        }
    }
}

/// The waker of job `B` (a bit): an `Arc<Shared>` with a vtable per job.
struct JobWaker<const B: u8>;

impl<const B: u8> JobWaker<B> {
    const VTABLE: RawWakerVTable =
        RawWakerVTable::new(Self::clone, Self::wake, Self::wake_by_ref, Self::drop);

    /// The job's waker, borrowing the join's reference to `shared`: it is
    /// never dropped (`ManuallyDrop`), and its clones take references of
    /// their own. Made for each poll rather than kept: 48 bytes less per
    /// join.
    fn borrowed(shared: &Arc<Shared>) -> ManuallyDrop<Waker> {
        let data = Arc::as_ptr(shared).cast::<()>();
        // SAFETY: `data` points to a live `Shared` for as long as `shared`
        // is borrowed; the waker is never dropped, so it gives back no
        // reference it did not take.
        ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(data, &Self::VTABLE)) })
    }
    unsafe fn clone(data: *const ()) -> RawWaker {
        // SAFETY: `data` came from `Arc::into_raw` and is still alive.
        unsafe { Arc::increment_strong_count(data.cast::<Shared>()) };
        RawWaker::new(data, &Self::VTABLE)
    }
    unsafe fn wake(data: *const ()) {
        // SAFETY: this waker's strong reference, given up here.
        let shared = unsafe { Arc::from_raw(data.cast::<Shared>()) };
        shared.wake(B);
    }
    unsafe fn wake_by_ref(data: *const ()) {
        // SAFETY: a strong reference is held while the waker is borrowed
        // (its own, or the join's for a borrowed waker).
        let shared = unsafe { &*data.cast::<Shared>() };
        shared.wake(B);
    }
    unsafe fn drop(data: *const ()) {
        // SAFETY: this waker's strong reference, given up here.
        drop(unsafe { Arc::from_raw(data.cast::<Shared>()) });
    }
}

pin_project! {
    /// The future of [`join3`].
    #[must_use = "futures do nothing unless polled"]
    pub(crate) struct Join3<A, B, C> {
        #[pin]
        a: Option<A>,
        #[pin]
        b: Option<B>,
        #[pin]
        c: Option<C>,
        shared: Arc<Shared>,
    }
}

/// Runs three jobs to completion in the caller's task, polling each only
/// when its own waker was woken (each once at the start). Their outputs are
/// dropped.
pub(crate) fn join3<A, B, C>(a: A, b: B, c: C) -> Join3<A, B, C>
where
    A: Future,
    B: Future,
    C: Future,
{
    let shared = Arc::new(Shared {
        woken: AtomicU8::new(0b111),
        parent: Mutex::new(None),
    });
    Join3 {
        a: Some(a),
        b: Some(b),
        c: Some(c),
        shared,
    }
}

/// Polls the job in `slot` with `waker` if its bit is in `woken`; `true`
/// once the job is done.
fn poll_job<F: Future>(mut slot: Pin<&mut Option<F>>, waker: &Waker, woken: bool) -> bool {
    if woken
        && let Some(job) = slot.as_mut().as_pin_mut()
        && job.poll(&mut Context::from_waker(waker)).is_ready()
    {
        slot.set(None);
    }
    slot.is_none()
}

impl<A, B, C> Future for Join3<A, B, C>
where
    A: Future,
    B: Future,
    C: Future,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        {
            let mut parent = this.shared.parent.lock().unwrap_or_else(|p| p.into_inner());
            match &*parent {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *parent = Some(cx.waker().clone()),
            }
        }
        // Taken after the task's waker is in place: a job woken from now on
        // wakes the task again.
        let woken = this.shared.woken.swap(0, Ordering::AcqRel);
        let a = poll_job(
            this.a,
            &JobWaker::<0b001>::borrowed(this.shared),
            woken & 0b001 != 0,
        );
        let b = poll_job(
            this.b,
            &JobWaker::<0b010>::borrowed(this.shared),
            woken & 0b010 != 0,
        );
        let c = poll_job(
            this.c,
            &JobWaker::<0b100>::borrowed(this.shared),
            woken & 0b100 != 0,
        );
        if a && b && c {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// A job that counts its polls and ends after `wakes` wake-ups, each
    /// from the outside (through the waker it kept).
    struct Job {
        polls: Arc<AtomicUsize>,
        waker: Arc<Mutex<Option<Waker>>>,
        left: usize,
    }
    impl Future for Job {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            if self.left == 0 {
                return Poll::Ready(());
            }
            self.left -= 1;
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }
    fn job(left: usize) -> (Job, Arc<AtomicUsize>, Arc<Mutex<Option<Waker>>>) {
        let polls = Arc::new(AtomicUsize::new(0));
        let waker = Arc::new(Mutex::new(None));
        let job = Job {
            polls: polls.clone(),
            waker: waker.clone(),
            left,
        };
        (job, polls, waker)
    }
    fn wake(w: &Arc<Mutex<Option<Waker>>>) {
        w.lock().unwrap().take().unwrap().wake();
    }

    #[tokio::test]
    async fn only_the_woken_job_is_polled_and_the_join_ends_with_the_last() {
        let (a, a_polls, a_waker) = job(3);
        let (b, b_polls, b_waker) = job(1);
        let (c, c_polls, _c_waker) = job(0);
        let join = tokio::spawn(join3(a, b, c));
        let polled = |p: &Arc<AtomicUsize>, n: usize| {
            let p = p.clone();
            async move {
                tokio::time::timeout(std::time::Duration::from_secs(5), async {
                    while p.load(Ordering::SeqCst) < n {
                        tokio::task::yield_now().await;
                    }
                })
                .await
                .expect("polled");
            }
        };
        // Each job is polled once at the start; `c` is done then.
        polled(&a_polls, 1).await;
        polled(&b_polls, 1).await;
        assert_eq!(c_polls.load(Ordering::SeqCst), 1);

        // Waking `a` twice polls `a` (at least once per wake-up), never `b`.
        wake(&a_waker);
        polled(&a_polls, 2).await;
        wake(&a_waker);
        polled(&a_polls, 3).await;
        assert_eq!(b_polls.load(Ordering::SeqCst), 1, "b was not woken");
        assert_eq!(c_polls.load(Ordering::SeqCst), 1, "c is done");

        wake(&b_waker);
        polled(&b_polls, 2).await;
        assert!(!join.is_finished(), "a is not done yet");
        wake(&a_waker);
        tokio::time::timeout(std::time::Duration::from_secs(5), join)
            .await
            .expect("the join ends when its last job does")
            .unwrap();
        assert_eq!(a_polls.load(Ordering::SeqCst), 4);
        assert_eq!(b_polls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_job_waker_keeps_the_shared_state_alive() {
        let (a, _, a_waker) = job(1);
        let mut join = Box::pin(join3(a, async {}, async {}));
        let waker = futures_util::task::noop_waker();
        assert!(
            join.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        let kept = a_waker.lock().unwrap().take().unwrap();
        let state = Arc::downgrade(&join.shared);
        drop(join);
        // The join is gone; its job's waker keeps the state and still works
        // (it only sets a bit).
        assert!(
            state.upgrade().is_some(),
            "the job's waker holds a reference"
        );
        kept.wake_by_ref();
        assert_eq!(
            state.upgrade().map(|s| s.woken.load(Ordering::SeqCst)),
            Some(0b001),
            "the waker sets its job's bit"
        );
        // Its last reference goes with it: nothing leaks.
        kept.wake();
        assert!(
            state.upgrade().is_none(),
            "the state is freed with its last waker"
        );
    }
}
