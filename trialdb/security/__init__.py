"""Account security: the common-password check, TOTP second factor and
sign-in throttling by client address."""
