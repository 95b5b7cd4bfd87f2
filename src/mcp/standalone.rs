//! The stdio server's own notebook, when no daemon serves the repository:
//! opened on the first call and kept open with the snapshot's search
//! indexes, reopened when another process has slept since. When there is
//! no notebook, or HEAD has moved past it, the call sleeps first (an
//! incremental sleep, with a bounded slice of replay), its progress told
//! to the client; when that sleep fails but an older snapshot reads, the
//! answer comes from it, with a log line saying so.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use crate::agent::predict::{Answer, Query, predict_sleep};
use crate::agent::sleep_tools::SearchIndexes;
use crate::agent::{PolicyFactory, PolicyKind};
use crate::config::Config;
use crate::git::Repo;
use crate::notebook::{Notebook, Target};
use crate::sleep::{self, LearnOptions};

use super::backend::Backend;
use super::call::{Call, Request};
use super::error::McpError;
use super::local::{self, Open};
use super::progress::Notifier;
use super::reply::Reply;

/// Replay time a sleep before an answer may spend; the daemon or
/// `swe-sleep sleep` replays the rest.
const REPLAY_SLICE: Duration = Duration::from_secs(30);

/// A repository's notebook, opened here.
pub struct Standalone {
    repo_path: PathBuf,
    state_dir: PathBuf,
    config: Config,
    opened: Mutex<Option<Opened>>,
}

struct Opened {
    repo: Repo,
    nb: Notebook,
    indexes: SearchIndexes,
}

impl Opened {
    fn open<'a>(&'a self, config: &'a Config) -> Open<'a> {
        Open {
            repo: &self.repo,
            nb: &self.nb,
            indexes: &self.indexes,
            config,
        }
    }
}

impl Standalone {
    /// Nothing is opened before the first call.
    pub fn new(repo_path: PathBuf, state_dir: PathBuf, config: Config) -> Standalone {
        Standalone {
            repo_path,
            state_dir,
            config,
            opened: Mutex::new(None),
        }
    }

    /// Runs `f` on the open notebook, opening (and sleeping) first when
    /// needed.
    fn with_open<T>(
        &self,
        progress: &Notifier,
        f: impl FnOnce(&Opened) -> Result<T, McpError>,
    ) -> Result<T, McpError> {
        let mut slot = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        let reusable = match slot.take() {
            Some(o) if o.nb.is_current() && !head_moved(&o)? => Some(o),
            _ => None,
        };
        let opened = match reusable {
            Some(o) => o,
            None => self.open_now(progress)?,
        };
        let out = f(&opened);
        // A failed query may mean a damaged notebook: open afresh next time.
        if out.is_ok() {
            *slot = Some(opened);
        }
        out
    }

    fn open_now(&self, progress: &Notifier) -> Result<Opened, McpError> {
        let repo = Repo::open(&self.repo_path).map_err(McpError::Repo)?;
        let head = repo.head().map_err(McpError::Repo)?.map(|c| c.to_string());
        let existing = match Notebook::open(&self.state_dir) {
            Ok(nb) => nb,
            Err(e) if e.is_damage() => {
                progress.say(format!("the notebook cannot be read ({e}): rebuilding it"));
                None
            }
            Err(e) => return Err(McpError::Notebook(e)),
        };
        let nb = match existing {
            Some(nb) if head.is_none() || nb.info.commit == head => nb,
            existing => {
                progress.say(match &existing {
                    None => "no notebook for this repository yet: sleeping first".to_string(),
                    Some(_) => "HEAD has moved past the notebook: sleeping first".to_string(),
                });
                match self.sleep(&repo, progress) {
                    Ok(()) => {
                        drop(existing);
                        Notebook::open(&self.state_dir)
                            .map_err(McpError::Notebook)?
                            .ok_or_else(|| McpError::NoNotebook(self.state_dir.clone()))?
                    }
                    Err(e) => match existing {
                        Some(nb) => {
                            progress.say(format!(
                                "the notebook could not be updated ({}); answering from the last good snapshot",
                                e.chain()
                            ));
                            nb
                        }
                        None => return Err(e),
                    },
                }
            }
        };
        let indexes = SearchIndexes::build(&nb);
        Ok(Opened { repo, nb, indexes })
    }

    fn sleep(&self, repo: &Repo, progress: &Notifier) -> Result<(), McpError> {
        let target = match repo.work_dir() {
            Some(_) => Target::WorkTree,
            None => Target::Rev("HEAD".into()),
        };
        let learn = LearnOptions::from_config(&self.config).with_time_limit(REPLAY_SLICE);
        let outcome = sleep::run_offline(
            repo,
            &self.state_dir,
            &target,
            &self.config,
            &learn,
            progress,
        )
        .map_err(McpError::Sleep)?;
        let r = &outcome.index;
        progress.say(format!(
            "slept: {} files ({} read anew) at {}",
            r.counts.files,
            r.blobs_new,
            r.commit
                .as_deref()
                .map_or("the work tree", |c| &c[..12.min(c.len())])
        ));
        Ok(())
    }

    fn predict(&self, query: &Query, progress: &Notifier) -> Result<Answer, McpError> {
        let factory = PolicyFactory::new(PolicyKind::Offline, &self.config.llm, None)
            .map_err(|e| McpError::service("building the offline policy", e))?;
        let mut policy = factory
            .make(None)
            .map_err(|e| McpError::service("building the offline policy", e))?;
        self.with_open(progress, |o| {
            let prediction = predict_sleep(
                query,
                policy.as_mut(),
                &o.nb,
                Some(&o.repo),
                Some(&o.indexes),
                &self.config,
            )
            .map_err(McpError::Notebook)?;
            let head = o.repo.head().map_err(McpError::Repo)?;
            Ok(Answer::new(
                prediction,
                o.nb.info.commit.clone(),
                head.map(|c| c.to_string()),
            ))
        })
    }
}

/// Whether HEAD now names another commit than the notebook describes.
fn head_moved(o: &Opened) -> Result<bool, McpError> {
    let head = o.repo.head().map_err(McpError::Repo)?;
    Ok(head.is_some_and(|h| o.nb.info.commit.as_deref() != Some(h.to_string().as_str())))
}

impl Backend for Standalone {
    fn answer(&self, request: &Request, progress: &Notifier) -> Result<Reply, McpError> {
        match &request.call {
            Call::PredictFiles(q) => {
                let answer = self.predict(q, progress)?;
                Ok(Reply::prediction(&answer, request.max_tokens))
            }
            Call::Notebook(call) => self.with_open(progress, |o| {
                local::notebook_tool(o.open(&self.config), call, request.max_tokens)
            }),
            Call::Status => {
                let repo = Repo::open(&self.repo_path).map_err(McpError::Repo)?;
                local::status(&repo, &self.state_dir, &self.config, request.max_tokens)
            }
        }
    }
}
