//! mapcache-expiry
