//! Page snapshot -> agent view. No browser and no I/O live here.
pub mod markdown;
