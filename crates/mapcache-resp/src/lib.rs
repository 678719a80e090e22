//! mapcache-resp
