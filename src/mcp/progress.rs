//! Progress of a sleep an answer waits for, told to the client through
//! the protocol (never on stdout outside it): a [`Notifier`] is the
//! sleep's [`Progress`] on the blocking thread, and [`forward`] turns what
//! it hears into `notifications/progress` when the call carried a progress
//! token, each with a message (the phase, or a sentence such as "no
//! notebook yet: sleeping first"). Everything is also logged (stderr or
//! the log file).

use std::time::{Duration, Instant};

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::{Peer, RoleServer};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::notebook::Progress;

/// Progress notifications sent at most this often within a phase.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// What a sleep reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Start {
        phase: String,
        total: u64,
    },
    Advance(u64),
    Finish,
    /// A sentence for the client ("no notebook yet: sleeping first").
    Say(String),
}

/// The sending side; silent when nobody listens.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    tx: Option<UnboundedSender<Event>>,
}

impl Notifier {
    /// A notifier and the events it sends.
    pub fn channel() -> (Notifier, UnboundedReceiver<Event>) {
        let (tx, rx) = unbounded_channel();
        (Notifier { tx: Some(tx) }, rx)
    }

    /// Reports nothing.
    pub fn silent() -> Notifier {
        Notifier::default()
    }

    /// A sentence for the client (and the server's own log).
    pub fn say(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::info!("{message}");
        self.send(Event::Say(message));
    }

    fn send(&self, e: Event) {
        if let Some(tx) = &self.tx {
            // The receiver is gone when the call was answered or cancelled.
            let _ = tx.send(e);
        }
    }
}

impl Progress for Notifier {
    fn start(&self, phase: &str, total: u64) {
        self.send(Event::Start {
            phase: phase.to_string(),
            total,
        });
    }

    fn inc(&self, n: u64) {
        self.send(Event::Advance(n));
    }

    fn finish(&self) {
        self.send(Event::Finish);
    }
}

/// Where [`forward`] sends: the client, and the token of the call it
/// asked progress for.
pub struct Listener {
    pub peer: Peer<RoleServer>,
    pub token: Option<ProgressToken>,
}

/// Sends `events` to the client until the notifier is dropped.
pub async fn forward(mut events: UnboundedReceiver<Event>, to: Listener) {
    let mut state = Count::default();
    let mut last_sent = Instant::now();
    while let Some(e) = events.recv().await {
        let (message, urgent) = state.apply(&e);
        let Some(token) = &to.token else { continue };
        if !urgent && last_sent.elapsed() < PROGRESS_EVERY {
            continue;
        }
        last_sent = Instant::now();
        let mut p = ProgressNotificationParam::new(token.clone(), state.progress);
        if let Some(m) = message {
            p = p.with_message(m);
        }
        if to.peer.notify_progress(p).await.is_err() {
            return;
        }
    }
}

/// A count that only grows (as the protocol wants progress to), and the
/// current phase.
#[derive(Debug, Default)]
struct Count {
    progress: f64,
    phase: String,
    done: u64,
    total: u64,
}

impl Count {
    /// Applies `e`; returns the message to show and whether to send now
    /// (a phase's start and end, a sentence) or only if time has passed.
    fn apply(&mut self, e: &Event) -> (Option<String>, bool) {
        match e {
            Event::Start { phase, total } => {
                self.phase = phase.clone();
                self.done = 0;
                self.total = *total;
                self.progress += 1.0;
                (Some(format!("sleeping: {phase}")), true)
            }
            Event::Advance(n) => {
                self.done += n;
                self.progress += *n as f64;
                let of = match self.total {
                    0 => String::new(),
                    t => format!("/{t}"),
                };
                (
                    Some(format!("sleeping: {} {}{of}", self.phase, self.done)),
                    false,
                )
            }
            Event::Finish => {
                self.progress += 1.0;
                (Some(format!("sleeping: {} done", self.phase)), true)
            }
            Event::Say(text) => {
                self.progress += 1.0;
                (Some(text.clone()), true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_only_grows_and_names_the_phase() {
        let mut c = Count::default();
        let mut last = 0.0;
        for e in [
            Event::Say("no notebook yet: sleeping first".into()),
            Event::Start {
                phase: "blobs".into(),
                total: 10,
            },
            Event::Advance(4),
            Event::Advance(0),
            Event::Finish,
        ] {
            let (message, _) = c.apply(&e);
            assert!(c.progress >= last);
            last = c.progress;
            assert!(message.is_some());
        }
        let (m, urgent) = c.apply(&Event::Advance(2));
        assert_eq!(m.as_deref(), Some("sleeping: blobs 6/10"));
        assert!(!urgent);
    }

    #[test]
    fn a_notifier_sends_what_the_sleep_reports() {
        let (n, mut rx) = Notifier::channel();
        n.start("history", 3);
        n.inc(2);
        n.finish();
        n.say("done");
        drop(n);
        let mut got = Vec::new();
        while let Ok(e) = rx.try_recv() {
            got.push(e);
        }
        assert_eq!(
            got,
            [
                Event::Start {
                    phase: "history".into(),
                    total: 3
                },
                Event::Advance(2),
                Event::Finish,
                Event::Say("done".into()),
            ]
        );
        // Silent: nothing to send to, nothing fails.
        Notifier::silent().inc(1);
    }
}
