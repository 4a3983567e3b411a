"""What composes several domains: reports built from each domain's selectors. It sits above
the domains and nothing under apps/ imports it."""
