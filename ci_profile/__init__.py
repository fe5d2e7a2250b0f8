"""ci-profile: where CI time goes."""
