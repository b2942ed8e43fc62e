//! Test support for end-to-end suites.
