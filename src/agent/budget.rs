//! The test-time budget: tokens read and steps taken, and the position line
//! the policy sees after every call, as in the paper.

use serde::Serialize;

use crate::tokens;

#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    pub tokens: u64,
    pub steps: u32,
    pub used: u64,
    pub step: u32,
}

impl Budget {
    pub fn new(tokens: u64, steps: u32) -> Budget {
        Budget {
            tokens,
            steps,
            used: 0,
            step: 0,
        }
    }

    pub fn remaining(&self) -> u64 {
        self.tokens.saturating_sub(self.used)
    }

    pub fn steps_left(&self) -> u32 {
        self.steps.saturating_sub(self.step)
    }

    /// `[Step: i/N, tokens: used/budget]`
    pub fn position(&self) -> String {
        format!(
            "[Step: {}/{}, tokens: {}/{}]",
            self.step, self.steps, self.used, self.tokens
        )
    }

    /// Tokens the position line costs (charged after each call).
    pub fn position_cost(&self) -> u64 {
        tokens::count(&self.position())
    }

    /// Replaces the count with a measurement (a model's `usage`), which
    /// may be lower than the estimate it replaces; never above the budget.
    pub fn reconcile(&mut self, real: u64) {
        self.used = real.min(self.tokens);
    }

    /// Charges `n` tokens. Callers cut what they read to [`Budget::remaining`]
    /// first, so `used` never passes `tokens`.
    pub fn charge(&mut self, n: u64) {
        debug_assert!(
            self.used + n <= self.tokens,
            "over budget: {} + {n} > {}",
            self.used,
            self.tokens
        );
        self.used = (self.used + n).min(self.tokens);
    }
}
