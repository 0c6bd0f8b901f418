//! The demo data: idem's own synthetic person-records generator and the default settings it is
//! matched with (the FEBRL model, whose field formats the generator follows).

mod generate;

pub(crate) use generate::write_records;

/// The Splink settings `idem demo` writes and uses.
pub(crate) const DEFAULT_SETTINGS: &str = include_str!("settings.json");
