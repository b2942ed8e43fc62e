//! Gemini CLI reports tokens, never money: cost is estimated from a price table kept as
//! data (`prices.json` beside this file, read by [`crate::prices`]).

use crate::prices::PriceTable;
use std::sync::OnceLock;

/// The Gemini price table, USD per million tokens.
pub fn table() -> &'static PriceTable {
    static TABLE: OnceLock<PriceTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        PriceTable::parse(include_str!("prices.json")).expect("gemini prices.json is valid")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemini::GeminiHarness;
    use crate::Harness;

    #[test]
    fn every_offered_model_and_auto_route_is_priced() {
        let t = table();
        let offered = GeminiHarness.info().models;
        for m in offered
            .iter()
            .map(String::as_str)
            .filter(|m| *m != "auto")
            .chain(["gemini-3.8-flash", "gemini-3.5-flash-lite"])
        {
            let (p, entry) = t.price(m);
            assert_eq!(entry, Some(m), "{m} is not in prices.json");
            assert!(
                p.output > p.input && p.input > p.cached_input && p.cached_input > 0.0,
                "{m}: {p:?}"
            );
        }
        // The pro model is billed more above 200k prompt tokens.
        let (pro, _) = t.price("gemini-3.1-pro-preview");
        assert_eq!(pro.rates(200_001).input, 2.0 * pro.rates(200_000).input);
        assert_eq!(
            t.price("gemini-3.1-pro-preview-customtools").1,
            Some("gemini-3.1-pro-preview")
        );
    }
}
