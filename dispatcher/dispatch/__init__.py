"""The dispatcher wing: claims due items from the time index under a lease, plans them into
fires and publishes those to the bus, one release per instant."""
