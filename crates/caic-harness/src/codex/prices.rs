//! Codex reports tokens, never money: cost is estimated from a price table kept as data
//! (`prices.json` beside this file, read by [`crate::prices`]).

pub use crate::prices::Price;
use crate::prices::PriceTable;
use std::sync::OnceLock;

fn table() -> &'static PriceTable {
    static TABLE: OnceLock<PriceTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        PriceTable::parse(include_str!("prices.json")).expect("prices.json is valid")
    })
}

/// The price of `model`, and whether it is listed (else the default price applies).
pub fn price(model: &str) -> (Price, bool) {
    let (p, entry) = table().price(model);
    (p, entry.is_some())
}

/// Estimated USD for tokens of `model`.
pub fn estimate(model: &str, usage: &caic_api::Usage) -> f64 {
    let (p, _) = price(model);
    p.rates(0).cost(usage)
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
