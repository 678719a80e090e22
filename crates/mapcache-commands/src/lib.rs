//! mapcache-commands
