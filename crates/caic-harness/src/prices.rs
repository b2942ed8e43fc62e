//! Price tables kept as data, for agents that report tokens but never money (Codex,
//! Gemini CLI): each harness keeps a JSON file of USD per million tokens per model beside
//! its code and estimates a turn's cost from its token counts.
//!
//! A table file is `{"models": {NAME: PRICE, ...}, "default": PRICE}` (keys starting with
//! `_` are comments), where a PRICE is `{"input", "cached_input", "output"}` and, for
//! models billed more for long prompts, `"long_context": {"above_prompt_tokens", "input",
//! "cached_input", "output"}`: the rates of a request whose prompt (cached tokens
//! included) is larger than `above_prompt_tokens`.

use caic_api::Usage;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `usd` rounded to a picodollar (1e-12), so that it reads back from JSON bit for bit (a
/// sum of estimates can need 17 digits, which JSON readers may round differently).
pub fn round_usd(usd: f64) -> f64 {
    (usd * 1e12).round() / 1e12
}

/// USD per million tokens of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Rates {
    /// Uncached input.
    pub input: f64,
    /// Input read from (or written to) the prompt cache.
    pub cached_input: f64,
    /// Output, reasoning/thinking included.
    pub output: f64,
}

impl Rates {
    /// USD for `usage` at these rates.
    pub fn cost(&self, usage: &Usage) -> f64 {
        (usage.input_tokens as f64 * self.input
            + (usage.cache_read_input_tokens + usage.cache_creation_input_tokens) as f64
                * self.cached_input
            + usage.output_tokens as f64 * self.output)
            / 1_000_000.0
    }
}

/// The higher rates of requests with a long prompt.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct LongContext {
    /// A request whose prompt has more tokens than this (cached ones included) is billed
    /// at these rates.
    pub above_prompt_tokens: u64,
    /// The rates.
    #[serde(flatten)]
    pub rates: Rates,
}

/// The price of one model: its rates, and its long-prompt rates if it has any.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Price {
    /// Uncached input.
    pub input: f64,
    /// Input read from (or written to) the prompt cache.
    pub cached_input: f64,
    /// Output, reasoning/thinking included.
    pub output: f64,
    /// Rates of requests with a long prompt, if the model has a tier for them.
    #[serde(default)]
    pub long_context: Option<LongContext>,
}

impl Price {
    /// The rates of one request whose prompt has `prompt_tokens` tokens.
    pub fn rates(&self, prompt_tokens: u64) -> Rates {
        match self.long_context {
            Some(l) if prompt_tokens > l.above_prompt_tokens => l.rates,
            _ => Rates {
                input: self.input,
                cached_input: self.cached_input,
                output: self.output,
            },
        }
    }

    /// Short text of the rates, e.g. `input 2, cached input 0.2, output 12 (above 200000
    /// prompt tokens: 4 / 0.4 / 18)`.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "input {}, cached input {}, output {}",
            self.input, self.cached_input, self.output
        );
        if let Some(l) = self.long_context {
            s.push_str(&format!(
                " (above {} prompt tokens: {} / {} / {})",
                l.above_prompt_tokens, l.rates.input, l.rates.cached_input, l.rates.output
            ));
        }
        s
    }
}

/// A harness's price table.
#[derive(Debug, Clone, Deserialize)]
pub struct PriceTable {
    models: BTreeMap<String, Price>,
    default: Price,
}

impl PriceTable {
    /// Reads a table from its JSON text.
    pub fn parse(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The price of `model` and the table entry it came from: the model's own entry, else
    /// the longest listed name it extends with `-...` (a dated or variant id such as
    /// `gemini-3.5-flash-001`), else `None` and the default price.
    pub fn price(&self, model: &str) -> (Price, Option<&str>) {
        if let Some((name, p)) = self.models.get_key_value(model) {
            return (*p, Some(name.as_str()));
        }
        self.models
            .iter()
            .filter(|(name, _)| {
                model
                    .strip_prefix(name.as_str())
                    .is_some_and(|rest| rest.starts_with('-'))
            })
            .max_by_key(|(name, _)| name.len())
            .map(|(name, p)| (*p, Some(name.as_str())))
            .unwrap_or((self.default, None))
    }

    /// The listed model names.
    pub fn models(&self) -> impl Iterator<Item = &str> {
        self.models.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = r#"{
      "_comment": "test",
      "models": {
        "m": {"input": 1.0, "cached_input": 0.1, "output": 5.0},
        "m-lite": {"input": 0.5, "cached_input": 0.05, "output": 2.0},
        "big": {"input": 2.0, "cached_input": 0.2, "output": 12.0,
                "long_context": {"above_prompt_tokens": 200000, "input": 4.0,
                                 "cached_input": 0.4, "output": 18.0}}
      },
      "default": {"input": 3.0, "cached_input": 0.3, "output": 9.0}
    }"#;

    fn usage(input: u64, cached: u64, output: u64) -> Usage {
        Usage {
            input_tokens: input,
            output_tokens: output,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: cached,
        }
    }

    #[test]
    fn exact_then_longest_prefix_then_default() {
        let t = PriceTable::parse(TABLE).unwrap();
        assert_eq!(t.price("m").1, Some("m"));
        assert_eq!(t.price("m-lite").1, Some("m-lite"));
        assert_eq!(t.price("m-lite-001").1, Some("m-lite"));
        assert_eq!(t.price("m-002").1, Some("m"));
        // A name that merely starts with a listed one is another model.
        let (p, entry) = t.price("mx");
        assert_eq!(entry, None);
        assert_eq!(p.input, 3.0);
        assert_eq!(t.models().collect::<Vec<_>>(), ["big", "m", "m-lite"]);
    }

    #[test]
    fn cost_counts_each_kind_of_token() {
        let t = PriceTable::parse(TABLE).unwrap();
        let r = t.price("m").0.rates(10);
        let c = r.cost(&usage(1_000_000, 1_000_000, 1_000_000));
        assert!((c - (1.0 + 0.1 + 5.0)).abs() < 1e-9, "{c}");
        assert_eq!(r.cost(&Usage::default()), 0.0);
    }

    #[test]
    fn long_prompts_use_the_long_context_rates() {
        let t = PriceTable::parse(TABLE).unwrap();
        let (p, _) = t.price("big");
        assert_eq!(p.rates(200_000).input, 2.0, "the threshold itself is short");
        assert_eq!(p.rates(200_001).input, 4.0);
        assert_eq!(p.rates(200_001).output, 18.0);
        // Models without a tier keep their rates.
        assert_eq!(t.price("m").0.rates(5_000_000).input, 1.0);
        assert!(p
            .describe()
            .contains("above 200000 prompt tokens: 4 / 0.4 / 18"));
    }

    #[test]
    fn rounded_sums_read_back_exactly() {
        let sum = 0.0009525 + 0.000431 + 0.0019049999999999998;
        let r = round_usd(sum);
        assert!((r - sum).abs() < 1e-12);
        let back: f64 = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back.to_bits(), r.to_bits());
    }

    #[test]
    fn bad_tables_are_errors() {
        assert!(PriceTable::parse(r#"{"models": {}}"#).is_err());
        assert!(PriceTable::parse(r#"{"models": {"m": {"input": 1}}, "default": {}}"#).is_err());
    }
}
