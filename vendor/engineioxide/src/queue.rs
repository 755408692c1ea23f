//! A bounded single-consumer queue that allocates on demand.
//!
//! It replaces `tokio::sync::mpsc::channel` for a socket's send queue. tokio's
//! channel allocates its first block of 32 slots when it is created, for every
//! socket, even one that never queues anything (1.5 KiB per socket here). This
//! queue is one inline item plus a `VecDeque` behind a mutex ([`Items`]): a
//! single queued packet allocates nothing, a burst grows the `VecDeque`,
//! which is given back as soon as it is drained. Same API subset and the same semantics
//! as the tokio channel for what engineioxide uses: `try_send`, `try_reserve`
//! with permits counted against the capacity, `close` (queued items and
//! outstanding permits still reach the receiver, then `recv` returns `None`).
use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard},
    task::{Context, Poll, Waker},
};

use tokio::sync::{
    Notify,
    mpsc::error::{TryRecvError, TrySendError},
};

#[derive(Debug)]
struct State<T> {
    items: Items<T>,
    /// The latest volatile item (it bypasses `items` and the capacity; a new
    /// one replaces one not yet received). It was a tokio `watch` channel per
    /// socket: 410 bytes (its value and 8 `Notify`s) for a rarely used feature.
    volatile: Option<T>,
    /// Permits handed out and not yet used or dropped.
    reserved: usize,
    closed: bool,
    rx_waker: Option<Waker>,
    /// Senders waiting in [`Sender::send`] for a free place.
    send_waiting: usize,
    /// The session is closing: [`Receiver::recv_until_stopped`] ends once
    /// the queued items (and the volatile one) are out.
    stopped: bool,
}

/// The queued items: the oldest inline, the others in a `VecDeque` that
/// exists only while more than one item is queued.
///
/// Almost every send queues one packet and the writer takes it at once, so
/// the common path allocates nothing; a burst allocates the `VecDeque` once
/// and gives it back as soon as it is drained, so an idle socket holds no
/// buffer (before, every socket kept the `VecDeque` of its first burst: the
/// CONNECT reply, `connection:status` and a subscribe ack left 4 slots, 197
/// bytes with malloc's header).
#[derive(Debug)]
struct Items<T> {
    first: Option<T>,
    rest: VecDeque<T>,
}

impl<T> Items<T> {
    fn new() -> Self {
        Items {
            first: None,
            rest: VecDeque::new(),
        }
    }
    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }
    fn push_back(&mut self, item: T) {
        // `first` is always older than everything in `rest`.
        if self.first.is_none() && self.rest.is_empty() {
            self.first = Some(item);
        } else {
            self.rest.push_back(item);
        }
    }
    fn pop_front(&mut self) -> Option<T> {
        let item = self.first.take().or_else(|| self.rest.pop_front());
        if self.rest.is_empty() && self.rest.capacity() > 0 {
            self.rest = VecDeque::new();
        }
        item
    }
}

#[derive(Debug)]
struct Shared<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    /// Woken when the queue is closed (for [`Sender::closed`]).
    closed: Notify,
    /// Woken when a place frees up and a sender waits for one.
    space: Notify,
}

impl<T> Shared<T> {
    /// Call after a place was freed, with the lock released.
    fn freed(&self, waiting: bool) {
        if waiting {
            self.space.notify_waiters();
        }
    }
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding the lock leaves a consistent VecDeque.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn push(&self, item: T, from_permit: bool) {
        let waker = {
            let mut s = self.lock();
            if from_permit {
                s.reserved -= 1;
            }
            s.items.push_back(item);
            s.rx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Create a queue holding at most `capacity` items (queued plus reserved).
pub(crate) fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: Items::new(),
            volatile: None,
            reserved: 0,
            closed: false,
            rx_waker: None,
            send_waiting: 0,
            stopped: false,
        }),
        capacity: capacity.max(1),
        closed: Notify::new(),
        space: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// The sending side (engineioxide keeps exactly one, in the socket).
#[derive(Debug)]
pub(crate) struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Asks the CPU to bring the queue's state (its lock and the start of
    /// what it guards: the first three cache lines) into the cache, without
    /// waiting for it and without taking the lock. A hint: nothing else
    /// changes; nothing on other architectures than x86_64.
    #[inline]
    pub(crate) fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let p = Arc::as_ptr(&self.shared).cast::<i8>();
            for line in 0..3 {
                // SAFETY: a prefetch never faults and its address need not be
                // valid; `p` points into a live allocation anyway (`Shared`
                // is larger than three lines).
                #[allow(unused_unsafe)]
                unsafe {
                    _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(line * 64))
                };
            }
        }
    }
}

/// A reserved place in the queue.
#[derive(Debug)]
pub(crate) struct Permit<'a, T> {
    shared: &'a Shared<T>,
    used: bool,
}

impl<T> Permit<'_, T> {
    pub(crate) fn send(mut self, item: T) {
        self.used = true;
        self.shared.push(item, true);
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        if !self.used {
            let (waker, waiting) = {
                let mut s = self.shared.lock();
                s.reserved -= 1;
                // A closed, drained queue ends once no permit is left.
                let waker = if s.closed { s.rx_waker.take() } else { None };
                (waker, s.send_waiting > 0)
            };
            self.shared.freed(waiting);
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

impl<T> Sender<T> {
    pub(crate) fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        let waker = {
            let mut s = self.shared.lock();
            if s.closed {
                return Err(TrySendError::Closed(item));
            }
            if s.items.len() + s.reserved >= self.shared.capacity {
                return Err(TrySendError::Full(item));
            }
            s.items.push_back(item);
            s.rx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Set the volatile item, replacing one not received yet. `false` once
    /// the queue is closed.
    pub(crate) fn send_volatile(&self, item: T) -> bool {
        let waker = {
            let mut s = self.shared.lock();
            if s.closed {
                return false;
            }
            s.volatile = Some(item);
            s.rx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    pub(crate) fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        let mut s = self.shared.lock();
        if s.closed {
            return Err(TrySendError::Closed(()));
        }
        if s.items.len() + s.reserved >= self.shared.capacity {
            return Err(TrySendError::Full(()));
        }
        s.reserved += 1;
        Ok(Permit {
            shared: &self.shared,
            used: false,
        })
    }

    /// Wait for a free place, then queue `item`; fails once the queue is closed.
    pub(crate) async fn send(&self, mut item: T) -> Result<(), TrySendError<T>> {
        loop {
            let notified = self.shared.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.try_send(item) {
                Err(TrySendError::Full(back)) => item = back,
                other => return other,
            }
            self.shared.lock().send_waiting += 1;
            // Re-check: a place may have freed up before we were counted.
            match self.try_send(item) {
                Err(TrySendError::Full(back)) => item = back,
                other => {
                    self.shared.lock().send_waiting -= 1;
                    return other;
                }
            }
            notified.await;
            self.shared.lock().send_waiting -= 1;
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// Tells the receiver that the session is closing: its
    /// [`Receiver::recv_until_stopped`] gives what is queued, then `None`
    /// (Pulseboard patch 19). The queue still accepts items until it is
    /// closed.
    pub(crate) fn stop_receiver(&self) {
        let waker = {
            let mut s = self.shared.lock();
            s.stopped = true;
            s.rx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Completes once the receiver has closed the queue or was dropped.
    pub(crate) async fn closed(&self) {
        loop {
            let notified = self.shared.closed.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }
}

/// What [`Receiver::recv_any`] got.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next<T> {
    Queued(T),
    Volatile(T),
}

/// The receiving side.
#[derive(Debug)]
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// Stop accepting new items; queued items and outstanding permits are
    /// still received.
    pub(crate) fn close(&mut self) {
        self.shared.lock().closed = true;
        self.shared.closed.notify_waiters();
        self.shared.space.notify_waiters();
    }

    /// The next queued item (the volatile one is not looked at); only the
    /// test harness's `recv` uses it since patch 19 (`poll_next`).
    #[cfg(any(test, feature = "__test_harness"))]
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut s = self.shared.lock();
        if let Some(item) = s.items.pop_front() {
            let waiting = s.send_waiting > 0;
            drop(s);
            self.shared.freed(waiting);
            return Poll::Ready(Some(item));
        }
        if s.closed && s.reserved == 0 {
            return Poll::Ready(None);
        }
        match &s.rx_waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => s.rx_waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The next queued item, else the volatile one (queued items first, as
    /// the two channels were polled before); `None` once closed and drained.
    pub(crate) fn poll_recv_any(&mut self, cx: &mut Context<'_>) -> Poll<Option<Next<T>>> {
        self.poll_next(cx, false)
    }

    /// As [`Receiver::poll_recv_any`], and also `None` once the queue is
    /// drained after [`Sender::stop_receiver`]. One lock for all of it.
    fn poll_next(&mut self, cx: &mut Context<'_>, until_stopped: bool) -> Poll<Option<Next<T>>> {
        let mut s = self.shared.lock();
        if let Some(item) = s.items.pop_front() {
            let waiting = s.send_waiting > 0;
            drop(s);
            self.shared.freed(waiting);
            return Poll::Ready(Some(Next::Queued(item)));
        }
        if s.closed && s.reserved == 0 {
            return Poll::Ready(None);
        }
        if let Some(item) = s.volatile.take() {
            return Poll::Ready(Some(Next::Volatile(item)));
        }
        if until_stopped && s.stopped {
            return Poll::Ready(None);
        }
        match &s.rx_waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => s.rx_waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    #[cfg(test)]
    pub(crate) async fn recv_any(&mut self) -> Option<Next<T>> {
        std::future::poll_fn(|cx| self.poll_recv_any(cx)).await
    }

    /// The websocket writer's wait: the next queued item, else the volatile
    /// one; `None` once the queue is closed, or drained after
    /// [`Sender::stop_receiver`] (the session is closing). The writer used to
    /// wait on the session's cancellation token beside the queue: a
    /// cancellation future polled on every wait (two locks on a cache line of
    /// its own, per delivery).
    pub(crate) async fn recv_until_stopped(&mut self) -> Option<Next<T>> {
        std::future::poll_fn(|cx| self.poll_next(cx, true)).await
    }

    #[cfg(any(test, feature = "__test_harness"))]
    pub(crate) async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    pub(crate) fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut s = self.shared.lock();
        match s.items.pop_front() {
            Some(item) => {
                let waiting = s.send_waiting > 0;
                drop(s);
                self.shared.freed(waiting);
                Ok(item)
            }
            None if s.closed && s.reserved == 0 => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_by_queued_plus_reserved_and_drained_after_close() {
        let (tx, mut rx) = channel::<u32>(2);
        tx.try_send(1).unwrap();
        let permit = tx.try_reserve().unwrap();
        assert!(matches!(tx.try_send(3), Err(TrySendError::Full(3))));
        assert!(matches!(tx.try_reserve(), Err(TrySendError::Full(()))));
        rx.close();
        assert!(tx.is_closed());
        assert!(matches!(tx.try_send(4), Err(TrySendError::Closed(4))));
        permit.send(2);
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, None);
        tx.closed().await;
    }

    #[tokio::test]
    async fn a_dropped_permit_frees_its_place() {
        let (tx, mut rx) = channel::<u32>(1);
        drop(tx.try_reserve().unwrap());
        tx.try_send(7).unwrap();
        assert_eq!(rx.try_recv().unwrap(), 7);
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
    }

    #[tokio::test]
    async fn a_drained_queue_holds_no_memory() {
        let (tx, mut rx) = channel::<u32>(8);
        let heap = |rx: &Receiver<u32>| rx.shared.lock().items.rest.capacity();
        // One item at a time: nothing allocated.
        tx.try_send(0).unwrap();
        assert_eq!(heap(&rx), 0);
        assert_eq!(rx.recv().await, Some(0));
        // A burst allocates, in order, and gives it back once drained.
        for i in 1..4 {
            tx.try_send(i).unwrap();
        }
        assert!(heap(&rx) > 0);
        assert_eq!(rx.recv().await, Some(1));
        tx.try_send(4).unwrap();
        assert_eq!(rx.try_recv().unwrap(), 2);
        assert_eq!(rx.try_recv().unwrap(), 3);
        assert_eq!(rx.try_recv().unwrap(), 4);
        assert_eq!(heap(&rx), 0, "drained by try_recv");
        tx.try_send(5).unwrap();
        tx.try_send(6).unwrap();
        assert_eq!(rx.recv().await, Some(5));
        assert_eq!(rx.recv().await, Some(6));
        assert_eq!(heap(&rx), 0, "drained by recv");
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
    }

    #[tokio::test]
    async fn a_stopped_receiver_gets_what_is_queued_then_none() {
        let (tx, mut rx) = channel::<u32>(4);
        let waiting = tokio::spawn(async move {
            let next = rx.recv_until_stopped().await;
            (next, rx)
        });
        tokio::task::yield_now().await;
        // A waiting receiver is woken by the stop.
        tx.stop_receiver();
        let (next, mut rx) = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("woken by the stop")
            .unwrap();
        assert_eq!(next, None);
        // What is queued still comes out first, the volatile item last.
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert!(tx.send_volatile(3));
        assert_eq!(rx.recv_until_stopped().await, Some(Next::Queued(1)));
        assert_eq!(rx.recv_until_stopped().await, Some(Next::Queued(2)));
        assert_eq!(rx.recv_until_stopped().await, Some(Next::Volatile(3)));
        assert_eq!(rx.recv_until_stopped().await, None);
        // The polling transport's wait does not stop: it ends with the
        // session's cancellation token.
        tx.try_send(4).unwrap();
        assert_eq!(rx.recv_any().await, Some(Next::Queued(4)));
        let cx_waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&cx_waker);
        assert!(rx.poll_recv_any(&mut cx).is_pending());
    }

    #[tokio::test]
    async fn the_latest_volatile_item_comes_after_the_queued_ones() {
        let (tx, mut rx) = channel::<u32>(1);
        assert!(tx.send_volatile(10));
        assert!(tx.send_volatile(11));
        tx.try_send(1).unwrap();
        // The volatile item bypasses the capacity.
        assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
        assert_eq!(rx.recv_any().await, Some(Next::Queued(1)));
        assert_eq!(rx.recv_any().await, Some(Next::Volatile(11)));
        let waiting = tokio::spawn(async move {
            let next = rx.recv_any().await;
            (next, rx)
        });
        tokio::task::yield_now().await;
        assert!(tx.send_volatile(12));
        let (next, mut rx) = waiting.await.unwrap();
        assert_eq!(next, Some(Next::Volatile(12)));
        rx.close();
        assert!(!tx.send_volatile(13));
        assert_eq!(rx.recv_any().await, None);
    }
}
