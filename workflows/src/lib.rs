//! idem's EMPI workflows: import, match and export, each a list of steps over the engine, the EMPI
//! store and the scorer.

pub mod export;
