"""What every domain shares: the error types that decide retry or give up."""
