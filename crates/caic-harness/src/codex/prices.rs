//! Codex reports tokens, never money: cost is estimated from a price table kept as data
//! (`prices.json` beside this file).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// USD per million tokens for one model.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Price {
    /// Uncached input.
    pub input: f64,
    /// Input read from the prompt cache.
    pub cached_input: f64,
    /// Output, reasoning included.
    pub output: f64,
}

#[derive(Debug, Deserialize)]
struct Table {
    models: BTreeMap<String, Price>,
    default: Price,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_json::from_str(include_str!("prices.json")).expect("prices.json is valid")
    })
}

/// The price of `model`, and whether it is listed (else the default price applies).
pub fn price(model: &str) -> (Price, bool) {
    match table().models.get(model) {
        Some(p) => (*p, true),
        None => (table().default, false),
    }
}

/// Estimated USD for tokens of `model`.
pub fn estimate(model: &str, usage: &caic_api::Usage) -> f64 {
    let (p, _) = price(model);
    (usage.input_tokens as f64 * p.input
        + (usage.cache_read_input_tokens + usage.cache_creation_input_tokens) as f64
            * p.cached_input
        + usage.output_tokens as f64 * p.output)
        / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_and_default_prices() {
        let (p, known) = price("gpt-6.2-sol");
        assert!(known);
        assert!(p.output > p.input && p.input > p.cached_input);
        let (_, known) = price("some-future-model");
        assert!(!known);
    }

    #[test]
    fn estimate_counts_each_kind_of_token() {
        let u = caic_api::Usage {
            input_tokens: 1_000_000,
            output_tokens: 1_000_000,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 1_000_000,
        };
        let (p, _) = price("gpt-5.5");
        let want = p.input + p.output + p.cached_input;
        assert!((estimate("gpt-5.5", &u) - want).abs() < 1e-9);
    }
}
