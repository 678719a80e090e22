//! mapcache-server
