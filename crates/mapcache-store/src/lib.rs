//! mapcache-store
