"""Use cases. Each takes the session it works in and leaves committing to the
caller's unit of work, so one use case is one transaction."""
