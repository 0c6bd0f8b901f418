//! Loads comparator plugins and registers their functions with the scorer's registry.
