//! The bounded intake queue between the job path and the delivery worker.
//!
//! One `VecDeque` per importance class, so that when the queue is full the
//! oldest event of the least important class is evicted in O(1). A global
//! sequence number keeps the classes in push order when the worker drains
//! them, which keeps a run's start ahead of its finish.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::event::Event;

const CLASSES: usize = 3;

/// What happened to a pushed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued; nothing was lost.
    Queued,
    /// Queued, and a less important event was evicted to make room.
    Evicted,
    /// Not queued: the queue is full of events at least as important.
    Rejected,
    /// Not queued: the monitor is shutting down.
    Closed,
}

#[derive(Debug)]
pub(crate) struct Queue {
    state: Mutex<State>,
    capacity: usize,
    /// Wakes the worker. `notify_one` is a single atomic operation while the
    /// worker is busy; it only costs a wake-up when the worker sleeps.
    pub(crate) notify: Notify,
}

#[derive(Debug, Default)]
struct State {
    classes: [VecDeque<(u64, Event)>; CLASSES],
    len: usize,
    next_seq: u64,
    closed: bool,
}

impl Queue {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            capacity: capacity.max(1),
            notify: Notify::new(),
        }
    }

    pub(crate) fn push(&self, event: Event) -> Pushed {
        let class = event.kind.importance();
        let pushed = {
            let mut s = self.lock();
            if s.closed {
                return Pushed::Closed;
            }
            let mut pushed = Pushed::Queued;
            if s.len >= self.capacity {
                let Some(victim) = (0..=class).find(|&c| !s.classes[c].is_empty()) else {
                    return Pushed::Rejected;
                };
                s.classes[victim].pop_front();
                s.len -= 1;
                pushed = Pushed::Evicted;
            }
            let seq = s.next_seq;
            s.next_seq += 1;
            let mut event = event;
            event.seq = seq;
            s.classes[class].push_back((seq, event));
            s.len += 1;
            pushed
        };
        self.notify.notify_one();
        pushed
    }

    /// Takes up to `max` events in push order.
    pub(crate) fn drain(&self, max: usize, out: &mut Vec<Event>) {
        let mut s = self.lock();
        for _ in 0..max {
            let next = (0..CLASSES)
                .filter_map(|c| s.classes[c].front().map(|(seq, _)| (*seq, c)))
                .min();
            let Some((_, c)) = next else { break };
            if let Some((_, e)) = s.classes[c].pop_front() {
                s.len -= 1;
                out.push(e);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len
    }

    /// The sequence number the next pushed event will get: a flush covers
    /// the events numbered below it.
    pub(crate) fn next_seq(&self) -> u64 {
        self.lock().next_seq
    }

    /// The sequence number of the oldest queued event.
    pub(crate) fn oldest_seq(&self) -> Option<u64> {
        let s = self.lock();
        s.classes
            .iter()
            .filter_map(|c| c.front())
            .map(|(seq, _)| *seq)
            .min()
    }

    /// A short description of every queued event numbered below `upto`,
    /// for flush reports.
    pub(crate) fn describe(&self, upto: u64, out: &mut Vec<crate::stats::Undelivered>) {
        let s = self.lock();
        for class in &s.classes {
            for (_, e) in class.iter().filter(|(seq, _)| *seq < upto) {
                out.push(crate::stats::Undelivered::event(e, None));
            }
        }
    }

    /// Empties the queue (its events are given up).
    pub(crate) fn clear(&self) {
        let mut s = self.lock();
        for class in &mut s.classes {
            class.clear();
        }
        s.len = 0;
    }

    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Check;
    use crate::event::EventKind;

    fn ev(kind: EventKind, n: u128) -> Event {
        Event::new(
            Check::new("q").unwrap(),
            uuid::Uuid::from_u128(n),
            kind,
            std::time::SystemTime::now(),
        )
    }

    #[test]
    fn drains_in_push_order_across_classes() {
        let q = Queue::new(10);
        q.push(ev(EventKind::Start, 1));
        q.push(ev(EventKind::Log, 1));
        q.push(ev(EventKind::Success, 1));
        let mut out = Vec::new();
        q.drain(10, &mut out);
        let kinds: Vec<_> = out.iter().map(|e| e.kind.clone()).collect();
        assert_eq!(
            kinds,
            [EventKind::Start, EventKind::Log, EventKind::Success]
        );
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn full_queue_evicts_least_important_first() {
        let q = Queue::new(3);
        assert_eq!(q.push(ev(EventKind::Start, 1)), Pushed::Queued);
        assert_eq!(q.push(ev(EventKind::Log, 1)), Pushed::Queued);
        assert_eq!(q.push(ev(EventKind::Success, 1)), Pushed::Queued);
        // Full: a final event evicts the log, then the start.
        assert_eq!(q.push(ev(EventKind::Fail, 2)), Pushed::Evicted);
        assert_eq!(q.push(ev(EventKind::Success, 3)), Pushed::Evicted);
        // Only finals left: a start cannot evict them, a final evicts the oldest final.
        assert_eq!(q.push(ev(EventKind::Start, 4)), Pushed::Rejected);
        assert_eq!(q.push(ev(EventKind::Success, 5)), Pushed::Evicted);
        let mut out = Vec::new();
        q.drain(10, &mut out);
        let runs: Vec<_> = out.iter().map(|e| e.run_id.as_u128()).collect();
        assert_eq!(runs, [2, 3, 5]);
    }

    #[test]
    fn closed_queue_refuses() {
        let q = Queue::new(3);
        q.close();
        assert_eq!(q.push(ev(EventKind::Start, 1)), Pushed::Closed);
    }
}
