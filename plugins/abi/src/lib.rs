//! The C ABI that an idem comparator plugin implements.
