"""Community conversations by email: a community's address, posts and threads, their delivery and archive."""
