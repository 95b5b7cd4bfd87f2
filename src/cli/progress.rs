//! Progress bars on stderr (hidden when stderr is not a terminal).

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

use swe_sleep::notebook::Progress;

pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
    enabled: bool,
}

impl Bars {
    pub fn new(enabled: bool) -> Bars {
        Bars {
            bar: Mutex::new(None),
            enabled,
        }
    }
}

impl Progress for Bars {
    fn start(&self, phase: &str, total: u64) {
        if !self.enabled {
            return;
        }
        let bar = if total > 0 {
            ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{msg:>18} [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
                )
                .expect("static template is valid")
                .progress_chars("=> "),
            )
        } else {
            ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{msg:>18} {spinner} {pos} {per_sec}")
                    .expect("static template is valid"),
            )
        };
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.set_message(phase.to_string());
        *self.bar.lock().expect("progress lock") = Some(bar);
    }

    fn inc(&self, n: u64) {
        if let Some(b) = self.bar.lock().expect("progress lock").as_ref() {
            b.inc(n);
        }
    }

    fn finish(&self) {
        if let Some(b) = self.bar.lock().expect("progress lock").take() {
            b.finish_and_clear();
        }
    }
}
