//! Country lookup in a MaxMind-format database (GeoIP2/GeoLite2 Country, or any DB with
//! `country.iso_code`).

use crate::Error;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// An open country database.
pub struct GeoDb {
    reader: maxminddb::Reader<Vec<u8>>,
    path: PathBuf,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb").field("path", &self.path).finish()
    }
}

impl GeoDb {
    /// Reads the database at `path` into memory.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let reader = maxminddb::Reader::open_readfile(path).map_err(|e| Error::Geo {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(GeoDb {
            reader,
            path: path.to_path_buf(),
        })
    }

    /// The ISO 3166-1 alpha-2 code (upper case) of the country `ip` is in, falling back
    /// to the registered country; `None` when the database does not know.
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        let result = self.reader.lookup(ip.to_canonical()).ok()?;
        let c = result
            .decode::<maxminddb::geoip2::Country>()
            .ok()
            .flatten()?;
        c.country
            .iso_code
            .or(c.registered_country.iso_code)
            .map(|s| s.to_ascii_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MaxMind's public test database (see testdata/README.md).
    pub(crate) fn test_db() -> GeoDb {
        GeoDb::open(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/GeoIP2-Country-Test.mmdb"),
        )
        .unwrap()
    }

    #[test]
    fn s09_country_lookup_v4_and_v6() {
        let db = test_db();
        assert_eq!(
            db.country("81.2.69.142".parse().unwrap()).as_deref(),
            Some("GB")
        );
        assert_eq!(
            db.country("89.160.20.112".parse().unwrap()).as_deref(),
            Some("SE")
        );
        assert_eq!(
            db.country("2001:218::1".parse().unwrap()).as_deref(),
            Some("JP")
        );
        assert_eq!(
            db.country("::ffff:81.2.69.142".parse().unwrap()).as_deref(),
            Some("GB")
        );
        assert_eq!(db.country("127.0.0.1".parse().unwrap()), None);
    }

    #[test]
    fn missing_database_is_an_error_naming_it() {
        let e = GeoDb::open(Path::new("/nonexistent/db.mmdb")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/db.mmdb"), "{e}");
    }
}
